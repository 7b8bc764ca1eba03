"""Smart Turn v3 on ONNX Runtime: does the speech heard so far sound like a finished turn?

The model (a Whisper-tiny encoder and a classifier) reads the last 8 s of the turn's audio, left-padded with
silence, as 80×800 Whisper log-mel features of the waveform normalised to zero mean and unit variance, and answers
P(finished). faster-whisper's feature extractor computes exactly those features (checked against the reference
extractor to 2e-6), so no second implementation lives here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

from assistant.config import Config
from assistant.core.thread_priority import Role
from assistant.core.types import SAMPLE_RATE
from assistant.core.worker_thread import EngineThread
from assistant.engines.onnx import onnx_session

WINDOW_S = 8  # the model sees the last 8 s of the turn
_WINDOW = WINDOW_S * SAMPLE_RATE
_NORMALISE_EPS = 1e-7


class SmartTurnModel:
    """Blocking: one probability per call. Not thread-safe (one engine thread calls it)."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._session = onnx_session(path, threads)
        self._features = FeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE, hop_length=160,
                                          chunk_length=WINDOW_S, n_fft=400)

    def probability(self, audio: np.ndarray) -> float:
        window = np.zeros(_WINDOW, dtype=np.float32)
        tail = audio[-_WINDOW:]
        if len(tail):
            window[-len(tail):] = tail
        window = (window - window.mean()) / np.sqrt(window.var() + _NORMALISE_EPS)
        features = self._features(window, padding=0)[np.newaxis, :, : _WINDOW // 160]
        (out,) = self._session.run(None, {"input_features": features.astype(np.float32, copy=False)})
        return float(np.asarray(out).reshape(-1)[0])


class SmartTurnDetector:
    """The end-of-turn engine: each question goes to the model on its own thread, never the event loop."""

    name = "Smart Turn v3.2"

    def __init__(self, model: SmartTurnModel) -> None:
        self._model = model
        self._thread = EngineThread("turn", Role.JUDGE)

    async def completion(self, audio: np.ndarray) -> float:
        """P(the turn is finished), from the turn's audio until now."""
        return await self._thread.run(self._model.probability, audio)

    def close(self) -> None:
        self._thread.close()


def load_smart_turn_model(config: Config) -> SmartTurnModel:
    """Blocking: load and warm up the model (the first run pays ONNX Runtime's set-up)."""
    from assistant.engines.models import require

    model = SmartTurnModel(require("smart-turn", config.models_dir) / "smart-turn-v3.2-cpu.onnx",
                           config.turn.threads)
    model.probability(np.zeros(SAMPLE_RATE, dtype=np.float32))
    return model


def load_turn_detector(config: Config) -> SmartTurnDetector | None:
    """Blocking: the end-of-turn engine, warm; None when the silence hangover alone ends turns."""
    return SmartTurnDetector(load_smart_turn_model(config)) if config.turn.end_of_turn == "smart" else None
