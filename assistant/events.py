"""Typed values that flow between stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

SAMPLE_RATE = 16_000  # every microphone frame and STT input is 16 kHz mono float32
FRAME_SAMPLES = 512  # 32 ms: the frame size Silero VAD expects at 16 kHz

# Who takes turns: the VAD (always listening), or a key the user presses.
ALWAYS_LISTENING, PUSH_TO_TALK = "always-listening", "push-to-talk"
MODES = (ALWAYS_LISTENING, PUSH_TO_TALK)


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


@dataclass(frozen=True, eq=False)
class MicFrame:
    """One 32 ms microphone frame; `start` is the index of its first sample on the input timeline."""

    samples: np.ndarray = field(repr=False)
    start: int


class State(StrEnum):
    LISTENING = "listening"
    USER_SPEAKING = "user speaking"
    THINKING = "thinking"
    SPEAKING = "speaking"


@dataclass(frozen=True)
class StateChanged:
    state: State


@dataclass(frozen=True)
class ModeChanged:
    mode: str  # "always-listening" or "push-to-talk"


@dataclass(frozen=True)
class MicLevel:
    """Per frame, for a level meter: RMS in dBFS and the VAD's speech probability."""

    dbfs: float
    speech_probability: float


@dataclass(frozen=True)
class PartialTranscript:
    text: str


@dataclass(frozen=True)
class FinalTranscript:
    text: str


@dataclass(frozen=True)
class ReplyDelta:
    text: str


@dataclass(frozen=True)
class ReplyInterrupted:
    """The user cut in: `heard` is what was played before the speaker went silent."""

    heard: str
    barge_in_ms: float


@dataclass(frozen=True)
class Notice:
    """Something went wrong in a turn; the session goes on."""

    message: str


@dataclass(frozen=True)
class TurnFinished:
    """One turn's record (transcript, reply, outcome, metrics in ms on the input timeline)."""

    record: dict = field(hash=False)


ConversationEvent = (StateChanged | ModeChanged | MicLevel | PartialTranscript | FinalTranscript | ReplyDelta
                     | ReplyInterrupted | Notice | TurnFinished)
