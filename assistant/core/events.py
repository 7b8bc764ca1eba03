"""What the conversation tells its listeners (the TUI, the console, tests): state, transcripts, the reply, notices."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from assistant.core.records import TurnRecord
from assistant.core.types import Mode


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
    mode: Mode


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
class Announced:
    """A timer or alarm went off: what the assistant says about it (on its own, or between two sentences)."""

    text: str


@dataclass(frozen=True)
class Notice:
    """Something went wrong in a turn; the session goes on."""

    message: str


@dataclass(frozen=True)
class TurnFinished:
    """One turn's record (transcript, reply, outcome, metrics in ms on the input timeline)."""

    record: TurnRecord


ConversationEvent = (StateChanged | ModeChanged | MicLevel | PartialTranscript | FinalTranscript | ReplyDelta
                     | ReplyInterrupted | Announced | Notice | TurnFinished)
