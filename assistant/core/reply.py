"""A spoken reply as a handle, in the spirit of LiveKit's SpeechHandle: its task, its commit gate, the events it
holds until then, the chunks it queued, and what of it was heard.

An answer may start before the end of the turn is confirmed (speculation). Until `commit()` it is invisible: every
event it emits is held, it plays nothing (its speaking waits on the gate), and it has not touched the history.
Everything a reply says goes through `emit`, and everything it plays through `play`, so a reply dropped before its
commit can never show anything, and a cancelled one never shows or plays another thing: cancelling its task reaches
its parts (the LLM reader, the TTS feeder) only at their next await, and one of them may be woken before that.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from typing import Any

from assistant.core.events import ConversationEvent
from assistant.core.history import Message
from assistant.core.ports import PlayingChunk, Speaker
from assistant.core.types import AudioChunk

DRY_GAP_MIN_MS = 1.0  # below this, two chunks' play times differ by rounding only


class Reply:
    def __init__(self, turn: int, emit: Callable[[ConversationEvent], None]) -> None:
        self.turn = turn
        self._emit = emit
        self._committed = asyncio.Event()
        self._held: list[ConversationEvent] = []
        self._cancelled = False
        self.task: asyncio.Task[None] | None = None
        self.playing: list[PlayingChunk] = []  # everything queued for the speaker, in order
        self.spoken: list[PlayingChunk] = []  # the reply's own chunks (not spoken notices)
        self.user_message: Message | None = None  # the user's message, once committed into the history
        self._heard = asyncio.Event()
        self._transcript: str | None = None

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        self.task = asyncio.get_running_loop().create_task(work, name=f"turn-{self.turn}")

    def cancel(self) -> None:
        """Stop its LLM and TTS work; whatever it held is never shown, and nothing more is shown or played."""
        self._cancelled = True
        if self.task is not None:
            self.task.cancel()
        self._held.clear()

    # ---- what it answers

    def heard(self, transcript: str | None) -> None:
        """The final transcript of the speech it answers is in (None: there is none)."""
        self._transcript = transcript
        self._heard.set()

    async def transcript(self) -> str | None:
        """The final transcript, once `heard` (the end-of-turn judges read it while the answer is still held)."""
        await self._heard.wait()
        return self._transcript

    # ---- the commit gate

    @property
    def committed(self) -> bool:
        return self._committed.is_set()

    def commit(self) -> None:
        """The end of the turn is confirmed: what it held is shown now, and it may play."""
        self._committed.set()
        held, self._held = self._held, []
        for event in held:
            self._emit(event)

    async def until_committed(self) -> None:
        await self._committed.wait()

    def emit(self, event: ConversationEvent) -> None:
        if self._cancelled:
            return
        if self.committed:
            self._emit(event)
        else:
            self._held.append(event)

    # ---- playback

    def play(self, speaker: Speaker, chunk: AudioChunk, spoken: bool) -> None:
        """Queue a chunk of it on the speaker (`spoken`: its own words, not a notice) unless it was cancelled."""
        if self._cancelled:
            raise asyncio.CancelledError  # its task is being cancelled: this only comes a step sooner
        playing = speaker.enqueue(chunk)
        self.playing.append(playing)
        if spoken:
            self.spoken.append(playing)

    async def wait_while(self, too_much_queued: Callable[[], bool]) -> None:
        """Backpressure: wait while `too_much_queued()`, woken each time one of its chunks finishes or is dropped
        (the speaker sets the chunk's `done` event), never by polling."""
        while too_much_queued():
            pending = next((playing for playing in self.playing if not playing.done.is_set()), None)
            if pending is None:  # nothing of ours is queued: it is someone else's audio, not ours to wait for
                return
            await pending.done.wait()

    def dry_gaps_ms(self) -> list[float]:
        """Stutter: each wait between two of its chunks, in ms, where the speaker ran dry (the next chunk was not
        synthesized yet when the previous one ended). A chunk queued in time starts the moment the previous ends."""
        gaps = []
        for previous, following in zip(self.playing, self.playing[1:], strict=False):
            if previous.finished_at is not None and following.started_at is not None:
                gap_ms = (following.started_at - previous.finished_at) * 1000
                if gap_ms > DRY_GAP_MIN_MS:
                    gaps.append(gap_ms)
        return gaps

    @property
    def first_played_at(self) -> float | None:
        return self.playing[0].started_at if self.playing else None

    async def until_played(self) -> None:
        if self.playing:
            await self.playing[-1].done.wait()

    def heard_text(self) -> str:
        """The reply as far as it was played: whole chunks, then the played share of the words of the cut one."""
        words: list[str] = []
        for playing in self.spoken:
            chunk_words = playing.chunk.text.split()
            fraction = playing.played_fraction
            if fraction >= 1.0:
                words += chunk_words
            else:
                words += chunk_words[: math.floor(len(chunk_words) * fraction)]
                break
        return " ".join(words)
