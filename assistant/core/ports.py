"""The ports of the core: what it needs from a microphone, a speaker and each engine, as small Protocols.

The core imports only this module and `types`; implementations live in `assistant.audio` and `assistant.engines`,
and a test can put a scripted engine in any place.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np

from assistant.core.tooling import ToolCall
from assistant.core.types import AudioChunk, MicFrame, VadResult
from assistant.errors import UserError

Messages = list[dict[str, Any]]  # role and content; within a turn also tool calls and tool results
ToolSchemas = Sequence[Mapping[str, Any]]


class PlayingChunk:
    """A chunk handed to a speaker: how much of it has been played, and when it started and ended.

    `played` is advanced by the speaker's audio thread under the speaker's lock; read it through
    `played_fraction`, which takes the same lock, so a reader on the event loop sees a consistent value.
    """

    def __init__(self, chunk: AudioChunk, lock: threading.Lock | None = None) -> None:
        self.chunk = chunk
        self.played = 0  # samples handed to the device; written under `_lock`
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.dropped = False
        self.done = asyncio.Event()  # set once finished or dropped
        self._lock = lock or threading.Lock()

    @property
    def total(self) -> int:
        return len(self.chunk.samples)

    @property
    def played_fraction(self) -> float:
        with self._lock:
            played = self.played
        return played / self.total if self.total else 1.0

    def mark_started(self, when: float) -> None:
        self.started_at = when

    def mark_finished(self, when: float) -> None:
        self.finished_at = when
        self.done.set()

    def mark_dropped(self) -> None:
        self.dropped = True
        self.done.set()


class Microphone(Protocol):
    """16 kHz mono float32 frames of 512 samples, stamped with their place on the input timeline."""

    @property
    def overflows(self) -> int:
        """Input blocks lost before they were read, so far."""
        ...

    @property
    def started_at(self) -> float | None:
        """The monotonic time input sample 0 was captured; None until the microphone runs."""
        ...

    def frames(self) -> AsyncIterator[MicFrame]: ...

    def doze(self, wake_above: float | None) -> None:
        """Nothing is going on: frames no louder than `wake_above` (mean power) may come in batches, a few times a
        second, to save CPU; a louder one comes at once. None (the default): every frame as soon as it can."""
        ...

    def time_of(self, sample: int) -> float:
        """The monotonic time at which input sample `sample` was captured."""
        ...

    def close(self) -> None: ...


class Speaker(Protocol):
    sample_rate: int
    underflows: int  # output blocks the device had to fill in because ours came late, so far

    def enqueue(self, chunk: AudioChunk) -> PlayingChunk:
        """Queue a chunk (already at `sample_rate`); the handle reports when it started and finished playing."""
        ...

    def pause(self) -> float:
        """Go silent from the next block but keep everything queued. Returns when it went silent."""
        ...

    def resume(self) -> None:
        """Carry on from where `pause` stopped."""
        ...

    def discard(self) -> float:
        """Drop everything queued or buffered; silence follows from the next block. Returns when it went silent."""
        ...

    @property
    def queued_seconds(self) -> float: ...

    def close(self) -> None: ...


class VoiceActivityDetector(Protocol):
    async def process(self, frame: np.ndarray, frame_start: int) -> VadResult: ...

    def set_min_speech_ms(self, ms: int) -> None: ...

    def set_hangover_ms(self, ms: int) -> None: ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


class SpeechToText(Protocol):
    async def partial(self, audio: np.ndarray) -> str: ...

    async def final(self, audio: np.ndarray) -> str: ...

    def close(self) -> None: ...


class LlmError(UserError):
    """The language model failed; `str()` is one line that says what to do.

    `after_notice`, if given, is what the model wants done once the user has heard the turn's spoken notice.
    """

    def __init__(self, message: str, after_notice: Callable[[], object] | None = None) -> None:
        super().__init__(message)
        self.after_notice = after_notice


@dataclass(frozen=True)
class LlmDeadlines:
    """How long a backend itself waits before it gives up on a reply (and raises `LlmError`)."""

    first_token_s: float  # from the request to the first token, everything included (connecting, loading)
    between_tokens_s: float


@runtime_checkable
class LanguageModel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def deadlines(self) -> LlmDeadlines: ...

    @property
    def calls_tools(self) -> bool:
        """Whether it can be trusted with `tools` (else the intent layer answers the requests tools serve)."""
        ...

    def stream(self, messages: Messages, tools: ToolSchemas = ()) -> AsyncGenerator[str | ToolCall, None]:
        """Text deltas of the reply to `messages` (the config's system prompt is added if the first message
        is not a system message), and the calls of `tools` the model asks for. Raises `LlmError` from the iterator
        on failure; closing the stream stops the generation itself."""
        ...

    async def close(self) -> None: ...


class TextToSpeech(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def sample_rate(self) -> int: ...

    def synthesize(self, text: str, sample_rate: int | None = None) -> AsyncGenerator[AudioChunk, None]:
        """One chunk per sentence, at `sample_rate` if given (resampled on the engine's thread)."""
        ...

    def close(self) -> None: ...


class EngineRole(StrEnum):
    VAD = "VAD"
    STT = "STT"
    LLM = "LLM"
    TTS = "TTS"
    TURN = "end of turn"


@dataclass(frozen=True)
class EngineInfo:
    """Which engine fills a role, and why it was picked (for status lines, `--json`, the startup panel)."""

    role: EngineRole
    name: str
    why: str = ""  # e.g. "configured", "auto: Ollama answered at http://…"
    fallback: str | None = None  # it stands in for the preferred engine: why that one is not used

    def __str__(self) -> str:
        return f"{self.role} {self.name}" + (f" ({self.why})" if self.why else "")


class TurnDetector(Protocol):
    """Does a turn's speech so far sound finished? Runs its model off the event loop."""

    name: str

    async def completion(self, audio: np.ndarray) -> float:
        """P(the turn is finished), from the turn's audio until now (16 kHz mono float32)."""
        ...

    def close(self) -> None: ...


class WordsEndDetector(Protocol):
    """Do the user's words so far form a finished message? Reads the transcript, off the event loop."""

    name: str

    async def finished(self, text: str) -> float:
        """P(the message ends here), from the transcript (its punctuation is not trusted)."""
        ...

    async def close(self) -> None: ...


@dataclass
class Engines:
    """The four engines a conversation needs, and what was picked and why."""

    vad: VoiceActivityDetector
    stt: SpeechToText
    llm: LanguageModel
    tts: TextToSpeech
    about: tuple[EngineInfo, ...] = ()
    turn: TurnDetector | None = None  # the end-of-turn model; None: the silence hangover alone ends turns
    words: WordsEndDetector | None = None  # the transcript's end-of-turn cue, beside the model

    def info(self, role: EngineRole) -> EngineInfo | None:
        return next((info for info in self.about if info.role == role), None)

    async def close(self) -> None:
        self.vad.close()
        self.stt.close()
        self.tts.close()
        if self.turn is not None:
            self.turn.close()
        if self.words is not None:
            await self.words.close()
        await self.llm.close()
        # load_engines froze what was alive then, out of the collector's sight: these engines, once dropped, must not
        # stay behind in it (a bench or a test loads engines many times in one process)
        gc.unfreeze()
