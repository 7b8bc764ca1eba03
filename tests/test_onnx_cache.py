"""ONNX Runtime's optimised graph is kept in the user's cache folder: a second launch opens it as is, and gets the
same answers; a broken copy is made again, and a cache folder that cannot be written costs only the time."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE
from assistant.engines.models import require
from assistant.engines.onnx import onnx_session, optimised_copy
from assistant.engines.vad import SileroModel


@pytest.fixture
def silero_file(config, tmp_path, monkeypatch):
    """A private copy of the Silero model, and a private cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    copy = tmp_path / "silero_vad.onnx"
    shutil.copy2(require("silero-vad", config.models_dir) / "silero_vad.onnx", copy)
    return copy


def speech_probabilities(model_file, audio: np.ndarray) -> list[float]:
    """Silero's answers, each frame, from a model opened through `onnx_session` (as the VAD opens it)."""
    model = SileroModel(model_file)
    return [model.probability(audio[start:start + FRAME_SAMPLES])
            for start in range(0, len(audio) - FRAME_SAMPLES, FRAME_SAMPLES)]


def test_the_optimised_graph_is_kept_and_answers_the_same(silero_file, jfk):
    clip = jfk[: 3 * SAMPLE_RATE]
    first = speech_probabilities(silero_file, clip)  # optimised in memory, and kept
    kept = optimised_copy(silero_file)
    assert kept.is_file() and kept.stat().st_size > 0
    assert [p.name for p in kept.parent.iterdir()] == [kept.name]  # no temporary file left behind
    written = kept.stat().st_mtime_ns

    second = speech_probabilities(silero_file, clip)  # the kept copy, opened as is
    assert kept.stat().st_mtime_ns == written  # opened, not made again
    assert second == pytest.approx(first, abs=1e-5)
    assert max(second) > 0.9 and min(second) < 0.1  # it really hears the speech, and the silence before it


def test_a_changed_model_gets_its_own_copy_and_the_old_one_goes(silero_file, tmp_path):
    elsewhere = tmp_path / "elsewhere" / silero_file.name  # the same model in another folder: a copy of its own
    elsewhere.parent.mkdir()
    shutil.copy2(silero_file, elsewhere)
    onnx_session(elsewhere, 1)
    onnx_session(silero_file, 1)
    before = optimised_copy(silero_file)
    os.utime(silero_file, ns=(silero_file.stat().st_atime_ns, silero_file.stat().st_mtime_ns + 10**9))
    assert optimised_copy(silero_file) != before
    onnx_session(silero_file, 1)
    assert optimised_copy(silero_file).is_file()
    assert not before.exists()  # replaced, not piled up
    assert optimised_copy(elsewhere).is_file()  # the other folder's copy is left alone


def test_a_broken_copy_is_made_again(silero_file, jfk):
    clip = jfk[: 3 * SAMPLE_RATE]
    reference = speech_probabilities(silero_file, clip)
    kept = optimised_copy(silero_file)
    whole = kept.read_bytes()
    kept.write_bytes(whole[: len(whole) // 3])  # a disk that filled up, say

    assert speech_probabilities(silero_file, clip) == pytest.approx(reference, abs=1e-5)
    assert kept.read_bytes() == whole  # made again, whole


def test_a_cache_folder_that_cannot_be_written_costs_only_time(silero_file, tmp_path, monkeypatch, jfk):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))

    assert max(speech_probabilities(silero_file, jfk[: 3 * SAMPLE_RATE])) > 0.9
    assert not optimised_copy(silero_file).exists()
