"""The shared vocabulary of the pipeline: sample rate, frames, audio chunks, VAD decisions, turn-taking modes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

SAMPLE_RATE = 16_000  # every microphone frame and STT input is 16 kHz mono float32
FRAME_SAMPLES = 512  # 32 ms: the frame size Silero VAD expects at 16 kHz


class Mode(StrEnum):
    """Who takes turns: the VAD (always listening), or a key the user presses."""

    ALWAYS_LISTENING = "always-listening"
    PUSH_TO_TALK = "push-to-talk"


ALWAYS_LISTENING, PUSH_TO_TALK = Mode.ALWAYS_LISTENING, Mode.PUSH_TO_TALK
MODES = tuple(mode.value for mode in Mode)


@dataclass(frozen=True)
class SpeechStarted:
    """The VAD confirmed speech; `sample` is the input-timeline index of its true onset."""

    sample: int


@dataclass(frozen=True)
class SpeechEnded:
    """The hangover ran out; `sample` is the input-timeline index just after the last voiced frame."""

    sample: int


VadEvent = SpeechStarted | SpeechEnded


@dataclass(frozen=True)
class VadResult:
    """One frame's verdict: the speech probability, and a start/end event when the detector decided one."""

    probability: float
    event: VadEvent | None
    quiet_below: float | None = None  # frames no louder than this (mean power) are the room's noise floor to the VAD


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """Synthesized speech: float32 mono samples at `sample_rate`, and the text they say."""

    samples: np.ndarray = field(repr=False)
    sample_rate: int
    text: str = ""

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True, eq=False)
class MicFrame:
    """One 32 ms microphone frame; `start` is the index of its first sample on the input timeline."""

    samples: np.ndarray = field(repr=False)
    start: int
