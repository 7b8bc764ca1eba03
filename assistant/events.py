"""Typed values that flow between stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16_000  # every microphone frame and STT input is 16 kHz mono float32
FRAME_SAMPLES = 512  # 32 ms: the frame size Silero VAD expects at 16 kHz


@dataclass(frozen=True)
class SpeechStarted:
    """The VAD confirmed speech; `sample` is the input-timeline index of its true onset."""

    sample: int


@dataclass(frozen=True)
class SpeechEnded:
    """The hangover ran out; `sample` is the input-timeline index just after the last voiced frame."""

    sample: int


VadEvent = SpeechStarted | SpeechEnded


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """Synthesized speech: float32 mono samples at `sample_rate`, and the text they say."""

    samples: np.ndarray = field(repr=False)
    sample_rate: int
    text: str = ""

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate
