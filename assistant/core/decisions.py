"""What turn-taking decides: one small value per action, carried out in order by the conversation."""

from __future__ import annotations

from dataclasses import dataclass

from assistant.core.events import State
from assistant.core.types import Mode


@dataclass(frozen=True)
class ChangeState:
    state: State


@dataclass(frozen=True)
class RetuneVad:
    """Barge-in wants a quicker trigger while the assistant is active than a turn start does."""

    min_speech_ms: int


@dataclass(frozen=True)
class BeginTurn:
    """Start hearing a new utterance (from the pre-roll before `onset`)."""

    turn: int
    onset: int


@dataclass(frozen=True)
class BeginTypedTurn:
    """A typed message: a turn with nothing to hear, answered at once."""

    turn: int
    at: int
    text: str


@dataclass(frozen=True)
class BeginAnnouncement:
    """Something due (a timer) is said as a turn of its own, with nothing to hear."""

    turn: int


@dataclass(frozen=True)
class TranscribePartial:
    turn: int
    until: int


@dataclass(frozen=True)
class StartAnswer:
    """Answer the audio heard until `offset`; invisible until `EndTurn` commits it."""

    turn: int
    offset: int


@dataclass(frozen=True)
class DropAnswer:
    """The user went on: forget the answer started for this turn."""

    turn: int


@dataclass(frozen=True)
class EndTurn:
    """The end of the turn is confirmed (its speech ended at `offset`): the answer may show and play."""

    turn: int
    offset: int
    decided_by: str = "silence"  # "model" (it sounded finished), "pause limit", "silence" (the hangover) or "key"


@dataclass(frozen=True)
class JudgeTurnEnd:
    """Ask the end-of-turn model whether the turn's speech, which went quiet at `offset`, sounds finished."""

    turn: int
    offset: int


@dataclass(frozen=True)
class ForgetSpeech:
    """The turn ended before the VAD's own hangover: reset the speech detector, so that the user going on is heard
    as new speech."""


@dataclass(frozen=True)
class PauseReply:
    pass


@dataclass(frozen=True)
class ResumeReply:
    pass


@dataclass(frozen=True)
class BargeIn:
    """Cut the reply off (the speaker first), keeping what was heard; `onset` is when the user started."""

    turn: int | None  # None: nothing was being answered (the speaker is still silenced)
    onset: int
    was_paused: bool  # the reply already went silent on a first hint of this speech


@dataclass(frozen=True)
class StopReply:
    """Stop an answer still thinking (nothing played yet), by key."""

    turn: int


@dataclass(frozen=True)
class AbandonTurn:
    """Typing replaces what was being said: the utterance is dropped."""

    turn: int


@dataclass(frozen=True)
class FinishTurn:
    turn: int


@dataclass(frozen=True)
class ChangeMode:
    mode: Mode


Decision = (ChangeState | RetuneVad | BeginTurn | BeginTypedTurn | BeginAnnouncement | TranscribePartial
            | StartAnswer | DropAnswer | JudgeTurnEnd | ForgetSpeech | EndTurn | PauseReply | ResumeReply | BargeIn
            | StopReply | AbandonTurn | FinishTurn | ChangeMode)
