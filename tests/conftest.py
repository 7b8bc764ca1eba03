"""Shared fixtures: the real engines, loaded once per test session from the repo's models/ folder."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from assistant.config import Config, ModelsConfig
from tests.util import REPO, SHARED_DATA


@pytest.fixture(scope="session")
def config() -> Config:
    return dataclasses.replace(Config(), models=ModelsConfig(dir=str(REPO / "models")))


@pytest.fixture(scope="session")
def jfk() -> np.ndarray:
    from assistant.audio_file import read_speech

    return read_speech(SHARED_DATA / "jfk.flac")


@pytest.fixture(scope="session")
def stt(config):
    from assistant.stt import load_stt

    engine = load_stt(config)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def kokoro(config):
    from assistant.tts import load_kokoro

    engine = load_kokoro(config)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def piper(config):
    from assistant.tts import load_piper

    engine = load_piper(config)
    yield engine
    engine.close()
