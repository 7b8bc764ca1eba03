"""Shared fixtures: the real engines, loaded once per test session from the pulled models (tests.util.MODELS_DIR)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Config, ModelsConfig, ToolsConfig
from assistant.engines.models import STAMP_NAME
from tests import repo_guard
from tests.util import FIRST_QUESTION_S, MODELS_DIR, QUESTION_GAP_S, TEST_DATA

repo_guard.install()


@pytest.fixture(autouse=True)
def _reads_stay_in_the_repo():
    """A test that opened a file beside the checkout fails: a fresh clone has nothing there."""
    repo_guard.take_outside_reads()
    yield
    assert repo_guard.take_outside_reads() == [], "a test read a file outside the repository"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """The pulled models, linked file by file into a private folder (their stamps copied): verifying them writes
    stamps there, never into the models folder, which other checkouts may share."""
    root = tmp_path_factory.mktemp("models")
    for folder in MODELS_DIR.iterdir():
        if folder.is_dir():
            (root / folder.name).mkdir()
            for file in folder.iterdir():
                if file.name == STAMP_NAME:
                    shutil.copy(file, root / folder.name / file.name)
                elif file.is_file():
                    (root / folder.name / file.name).symlink_to(file.resolve())
    return root


@pytest.fixture(scope="session")
def config(models_dir, tmp_path_factory) -> Config:
    """The defaults, with the pulled models, and timers kept in a temporary folder (never the user's)."""
    timers = tmp_path_factory.mktemp("state") / "timers.json"
    return dataclasses.replace(Config(), models=ModelsConfig(dir=str(models_dir)),
                               tools=ToolsConfig(state_file=str(timers)))


@pytest.fixture
def questions(jfk, tmp_path):
    """`questions(n)`: a WAV (and where its speech is) of n spoken questions, QUESTION_GAP_S apart.

    Each is "And so my fellow Americans" (2.3 s); the gap leaves room for a reply or a spoken notice in between.
    """
    from assistant.bench.spans import place
    from assistant.core.types import SAMPLE_RATE

    def make(count: int) -> tuple[Path, list]:
        phrase = jfk[: int(2.3 * SAMPLE_RATE)]
        starts = [FIRST_QUESTION_S + k * QUESTION_GAP_S for k in range(count)]
        truth = place([(at, phrase) for at in starts], total_s=starts[-1] + 3.5, path=tmp_path / "in.wav")
        return tmp_path / "in.wav", truth

    return make


@pytest.fixture(scope="session")
def jfk() -> np.ndarray:
    from assistant.audio.files import read_speech

    return read_speech(TEST_DATA / "jfk.flac")


@pytest.fixture(scope="session")
def stt(config):
    from assistant.engines.stt import load_stt

    engine = load_stt(config)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def kokoro(config):
    from assistant.engines.tts import load_kokoro

    engine = load_kokoro(config)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def piper(config):
    from assistant.engines.tts import load_piper

    engine = load_piper(config)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def question_voice(config):
    """A Kokoro voice other than the assistant's, to speak test questions (16 kHz arrays)."""
    from assistant.engines.tts import load_kokoro

    voice = load_kokoro(dataclasses.replace(config, tts=dataclasses.replace(
        config.tts, kokoro=dataclasses.replace(config.tts.kokoro, voice="bm_george"))))

    def speak(text: str) -> np.ndarray:
        from assistant.audio.files import resample
        from assistant.core.types import SAMPLE_RATE

        return resample(voice.render_blocking(text), voice.sample_rate, SAMPLE_RATE)

    yield speak
    voice.close()


from tests.pulse import audio_devices  # noqa: E402,F401  (the virtual microphone and speaker, session-wide)
