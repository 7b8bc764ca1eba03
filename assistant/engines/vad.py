"""Silero VAD on ONNX Runtime (no torch): a per-frame speech probability, fed to the streaming speech detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.config import Config, VadConfig
from assistant.core.quiet_gate import QuietGate, frame_power
from assistant.core.speech_detector import SpeechDetector
from assistant.core.thread_priority import Role
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, SpeechEnded, SpeechStarted, VadResult
from assistant.core.worker_thread import EngineThread
from assistant.engines.onnx import onnx_session

CONTEXT_SAMPLES = 64  # Silero wants the last 64 samples of the previous frame before each new one


class SileroModel:
    """Per-frame speech probability; keeps the recurrent state and context between frames. Not thread-safe."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._session = onnx_session(path, threads)
        self._rate = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def probability(self, frame: np.ndarray) -> float:
        if frame.shape != (FRAME_SAMPLES,):
            raise ValueError(f"VAD frames must be {FRAME_SAMPLES} samples, got {frame.shape}")
        window = np.concatenate([self._context, frame.astype(np.float32, copy=False)])[np.newaxis, :]
        out, self._state = self._session.run(None, {"input": window, "state": self._state, "sr": self._rate})
        self._context = window[0, -CONTEXT_SAMPLES:]
        return float(out[0, 0])


def speech_segments(model: SileroModel, detector: SpeechDetector, audio: np.ndarray) -> list[tuple[int, int]]:
    """Offline pass over a whole buffer: (onset, offset) sample pairs. Resets both model and detector."""
    model.reset()
    detector.reset()
    segments: list[tuple[int, int]] = []
    onset = None
    usable = len(audio) - len(audio) % FRAME_SAMPLES
    for start in range(0, usable, FRAME_SAMPLES):
        event = detector.feed(model.probability(audio[start:start + FRAME_SAMPLES]), start)
        if isinstance(event, SpeechStarted):
            onset = event.sample
        elif isinstance(event, SpeechEnded) and onset is not None:
            segments.append((onset, event.sample))
            onset = None
    if onset is not None:  # speech still going at the end of the buffer
        segments.append((onset, detector.last_voiced_end))
    model.reset()
    detector.reset()
    return segments


class SileroVad:
    """The streaming VAD engine: frames go to the model on the VAD's own thread (unless the quiet gate finds them at
    the room's noise floor: those count as silence); events come back."""

    def __init__(self, model: SileroModel, config: VadConfig) -> None:
        self._model = model
        self._detector = SpeechDetector(config)
        self._thread = EngineThread("vad", Role.AUDIO)
        self.gate = QuietGate() if config.skip_quiet_frames else None

    async def process(self, frame: np.ndarray, frame_start: int) -> VadResult:
        gate = self.gate
        if gate is None:
            probability = await self._thread.run(self._model.probability, frame)
            return VadResult(probability, self._detector.feed(probability, frame_start))
        power = frame_power(frame)
        if not gate.admits(frame, power):
            return VadResult(0.0, self._detector.feed(0.0, frame_start), gate.skips_below)
        probability = await self._thread.run(self._primed_probability, gate.primer(), frame)
        gate.heard(power, probability)
        return VadResult(probability, self._detector.feed(probability, frame_start), gate.skips_below)

    def _primed_probability(self, primer: list[np.ndarray], frame: np.ndarray) -> float:
        for skipped in primer:  # the model's state as if it had heard the quiet just before
            self._model.probability(skipped)
        return self._model.probability(frame)

    def set_min_speech_ms(self, ms: int) -> None:
        self._detector.set_min_speech_ms(ms)

    def set_hangover_ms(self, ms: int) -> None:
        self._detector.set_hangover_ms(ms)

    def reset(self) -> None:
        self._detector.reset()

    def close(self) -> None:
        self._thread.close()


def load_silero_model(config: Config) -> SileroModel:
    from assistant.engines.models import require

    return SileroModel(require("silero-vad", config.models_dir) / "silero_vad.onnx", config.vad.threads)


def load_vad(config: Config) -> SileroVad:
    return SileroVad(load_silero_model(config), config.vad)
