"""The record of one turn: transcript, reply, outcome and the time of each stage on the input timeline.

A turn is drafted while it runs (`TurnDraft`, owned by the conversation) and frozen into a `TurnRecord` when it
ends; listeners, the turn log and the front ends only ever see the frozen record. JSON is made at the edges only
(`TurnRecord.to_json`, for the log and `--json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Stage(StrEnum):
    """The stages of a turn, in the order they happen; each is a time in ms on the input timeline."""

    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"  # the last voiced frame (or, typed, when the message was sent)
    END_OF_TURN = "end_of_turn"  # the end of the turn was confirmed
    STT_FINAL = "stt_final"
    LLM_FIRST_TOKEN = "llm_first_token"
    FIRST_CHUNK = "first_chunk"  # the first speakable chunk of text
    FIRST_TTS_CHUNK = "first_tts_chunk"
    FIRST_AUDIO = "first_audio"  # the first reply sample handed to the device

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# What happens after the user stops: the latency waterfall, in order.
AFTER_SPEECH_END = (Stage.END_OF_TURN, Stage.STT_FINAL, Stage.LLM_FIRST_TOKEN, Stage.FIRST_CHUNK,
                    Stage.FIRST_TTS_CHUNK, Stage.FIRST_AUDIO)
# What an answer started too early leaves behind, and dropping it takes back (the onset stays; no audio came).
ANSWER_STAGES = (Stage.SPEECH_END, Stage.END_OF_TURN, Stage.STT_FINAL, Stage.LLM_FIRST_TOKEN, Stage.FIRST_CHUNK,
                 Stage.FIRST_TTS_CHUNK)


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call of a turn: what was asked, when it started (ms on the input timeline), how long it ran, and
    its result (or its error, `failed`)."""

    name: str
    arguments: Mapping[str, Any]
    started_ms: float
    duration_ms: float
    result: str
    failed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": dict(self.arguments), "started_ms": _round(self.started_ms),
                "duration_ms": _round(self.duration_ms), "result": self.result, "failed": self.failed}


@dataclass(frozen=True)
class Judgement:
    """The end-of-turn judges' answers about one pause (None: no answer), and the time they took in ms."""

    sound: float | None
    words: float | None
    model_ms: float


@dataclass(frozen=True)
class TurnDecision:
    """How the end of a spoken turn was decided: by the end-of-turn model, the pause limit, the silence hangover
    or the key; the model's score at each pause of the turn (None: no answer), and its time for the last one."""

    decided_by: str
    scores: tuple[float | None, ...] = ()
    model_ms: float | None = None
    word_scores: tuple[float | None, ...] = ()  # the words cue's, at the same pauses

    @property
    def score(self) -> float | None:
        return self.scores[-1] if self.scores else None

    def to_json(self) -> dict[str, Any]:
        return {"decided_by": self.decided_by, "model_ms": _round(self.model_ms), "scores": _scores(self.scores),
                "word_scores": _scores(self.word_scores)}


class Outcome(StrEnum):
    PENDING = "pending"
    REPLIED = "replied"
    INTERRUPTED = "interrupted"
    FAILED = "failed"
    NO_SPEECH = "no speech"


@dataclass(frozen=True)
class TurnRecord:
    turn: int
    transcript: str = ""
    reply: str = ""  # for an interrupted turn: only what was played
    outcome: Outcome = Outcome.PENDING
    interrupted: bool = False
    notice: str = ""
    times_ms: Mapping[Stage, float] = field(default_factory=lambda: MappingProxyType({}))
    barge_in_ms: float | None = None
    overflows: int = 0  # microphone blocks lost during the turn (the machine was too busy to read them)
    underflows: int = 0  # speaker blocks that came late during the turn (a gap in what the user heard)
    stutter_gaps_ms: tuple[float, ...] = ()  # inside the reply: each silence where the speaker waited for speech
    tool_calls: tuple[ToolCallRecord, ...] = ()
    end_of_turn: TurnDecision | None = None  # spoken turns only

    @property
    def voice_to_voice_ms(self) -> float | None:
        if Stage.FIRST_AUDIO in self.times_ms and Stage.SPEECH_END in self.times_ms:
            return self.times_ms[Stage.FIRST_AUDIO] - self.times_ms[Stage.SPEECH_END]
        return None

    @property
    def answered(self) -> bool:
        """It ended with a reply, or a reply cut off, or a failure notice: not pending, not silence."""
        return self.outcome not in (Outcome.PENDING, Outcome.NO_SPEECH)

    def to_json(self) -> dict[str, Any]:
        return {"turn": self.turn, "transcript": self.transcript, "reply": self.reply, "outcome": str(self.outcome),
                "interrupted": self.interrupted, "notice": self.notice,
                "times_ms": {str(stage): _round(ms) for stage, ms in self.times_ms.items()},
                "barge_in_ms": _round(self.barge_in_ms), "voice_to_voice_ms": _round(self.voice_to_voice_ms),
                "overflows": self.overflows, "underflows": self.underflows,
                "stutter": {"gaps": len(self.stutter_gaps_ms), "total_ms": _round(sum(self.stutter_gaps_ms)),
                            "max_ms": _round(max(self.stutter_gaps_ms, default=0.0))},
                "tool_calls": [call.to_json() for call in self.tool_calls],
                "end_of_turn": self.end_of_turn.to_json() if self.end_of_turn else None}


@dataclass
class TurnDraft:
    """A turn while it runs: the conversation fills it in, then `freeze()`s it when the turn ends."""

    turn: int
    transcript: str = ""
    reply: str = ""
    outcome: Outcome = Outcome.PENDING
    notice: str = ""
    times_ms: dict[Stage, float] = field(default_factory=dict)
    barge_in_ms: float | None = None
    overflows: int = 0
    underflows: int = 0
    stutter_gaps_ms: list[float] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    end_of_turn: TurnDecision | None = None
    judgements: list[Judgement] = field(default_factory=list)  # one per pause the judges were asked about

    def freeze(self) -> TurnRecord:
        return TurnRecord(self.turn, self.transcript, self.reply, self.outcome, self.outcome == Outcome.INTERRUPTED,
                          self.notice, MappingProxyType(dict(self.times_ms)), self.barge_in_ms, self.overflows,
                          self.underflows, tuple(self.stutter_gaps_ms), tuple(self.tool_calls), self.end_of_turn)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _scores(scores: tuple[float | None, ...]) -> list[float | None]:
    return [None if score is None else round(score, 3) for score in scores]
