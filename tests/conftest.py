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


@pytest.fixture(scope="session")
def question_voice(config):
    """A Kokoro voice other than the assistant's, to speak test questions (16 kHz arrays)."""
    from assistant.tts import load_kokoro

    voice = load_kokoro(dataclasses.replace(config, tts=dataclasses.replace(
        config.tts, kokoro=dataclasses.replace(config.tts.kokoro, voice="bm_george"))))

    def speak(text: str) -> np.ndarray:
        from assistant.audio_file import resample
        from assistant.events import SAMPLE_RATE

        return resample(voice.render_blocking(text), voice.sample_rate, SAMPLE_RATE)

    yield speak
    voice.close()


from tests.pulse import audio_devices  # noqa: E402,F401  (the virtual microphone and speaker, session-wide)
