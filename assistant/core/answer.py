"""The work of one reply: final transcript → LLM stream → clause chunks → TTS → speaker.

It runs as the reply's task, so cancelling that one task stops the LLM, the TTS and everything queued behind them.
Everything it shows goes through the reply handle (held until the end of the turn is confirmed); it fills in the
turn's draft record and the history, and returns once the reply has played, failed or been found empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import numpy as np

from assistant.config import Config
from assistant.core.chunker import ClauseChunker
from assistant.core.events import FinalTranscript, Notice, ReplyDelta
from assistant.core.history import History, Message
from assistant.core.ports import Engines, LlmError, Speaker
from assistant.core.records import Outcome, Stage, TurnDraft
from assistant.core.reply import Reply

log = logging.getLogger(__name__)

SPOKEN_LLM_NOTICE = "Sorry, I can't think right now."
GUARD_SLACK_S = 1.0  # the core's backstop waits this much longer than the model's own deadline, so its message wins

Chunks = asyncio.Queue[tuple[str, bool] | None]  # (text, is a spoken notice), then None


def why(error: BaseException) -> str:
    """An exception as a few words: its message, or what it is when it has none (a timeout has none)."""
    if isinstance(error, TimeoutError):
        return str(error) or "timed out"
    return str(error) or type(error).__name__


class Answerer:
    def __init__(self, config: Config, engines: Engines, speaker: Speaker, history: History,
                 ms: Callable[[float], float], on_playing: Callable[[Reply], None]) -> None:
        self._conversation = config.conversation
        self._engines = engines
        self._speaker = speaker
        self._history = history
        self._ms = ms  # a monotonic time as ms on the input timeline
        self._on_playing = on_playing  # the reply handed its first audio (or more) to the speaker

    def _now_ms(self) -> float:
        return self._ms(time.monotonic())

    # ---- the commit gate and the history

    def commit(self, draft: TurnDraft, reply: Reply) -> None:
        """The end of the turn is confirmed: the reply shows what it held, and the user's words join the history."""
        reply.commit()
        self._add_user_message(draft, reply)

    def retract(self, draft: TurnDraft, reply: Reply) -> None:
        """Forget a reply started too early: the user was only pausing."""
        reply.cancel()
        if reply.user_message is not None:
            self._history.retract(reply.user_message)
            reply.user_message = None
        draft.transcript = draft.reply = ""

    def _add_user_message(self, draft: TurnDraft, reply: Reply) -> None:
        if reply.committed and draft.transcript and reply.user_message is None:
            reply.user_message = Message("user", draft.transcript)
            self._history.add(reply.user_message)

    # ---- the reply

    async def answer_speech(self, draft: TurnDraft, reply: Reply, audio: np.ndarray) -> None:
        try:
            async with asyncio.timeout(self._conversation.stt_timeout_s):
                text = await self._engines.stt.final(audio)
        except Exception as error:
            await reply.until_committed()
            self._fail(draft, reply, f"could not transcribe: {why(error)}")
            return
        draft.times_ms[Stage.STT_FINAL] = self._now_ms()
        draft.transcript = text
        reply.emit(FinalTranscript(text))
        if not text:
            await reply.until_committed()
            draft.outcome = Outcome.NO_SPEECH
            return
        await self.answer_text(draft, reply, text)

    async def answer_text(self, draft: TurnDraft, reply: Reply, text: str) -> None:
        self._add_user_message(draft, reply)
        messages = self._history.for_llm()
        if reply.user_message is None:  # a speculative answer: the history gets the message once it is confirmed
            messages.append(Message("user", text).for_llm())
        chunks: Chunks = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._speak(draft, reply, chunks))
                failure = await self._think(draft, reply, chunks, messages)
        except Exception as error:  # a bug in a stage must end the turn, not the session
            log.exception("turn %d failed", draft.turn)
            failure = f"internal error: {error}"
            reply.emit(Notice(failure))
        await reply.until_committed()  # the user may still go on and cancel it all
        if failure:
            heard = reply.heard_text()
            draft.reply = heard
            self._history.add(Message("assistant", heard, interrupted=True))
            draft.outcome, draft.notice = Outcome.FAILED, failure  # its notice was shown when the failure happened
            return
        self._history.add(Message("assistant", draft.reply))
        draft.outcome = Outcome.REPLIED

    def _fail(self, draft: TurnDraft, reply: Reply, message: str) -> None:
        draft.outcome, draft.notice = Outcome.FAILED, message
        reply.emit(Notice(message))

    async def _think(self, draft: TurnDraft, reply: Reply, chunks: Chunks, messages: list[dict[str, str]]
                     ) -> str | None:
        """Stream the LLM reply into speakable chunks. Returns a failure message, or None."""
        chunker = ClauseChunker()
        llm = self._engines.llm
        # Each backend enforces its own deadlines; this backstop catches one that does not (or hangs anyway), so a
        # hung model ends the turn, never the session.
        limit = llm.deadlines.first_token_s + GUARD_SLACK_S
        try:
            async with contextlib.aclosing(llm.stream(messages)) as stream:
                while True:
                    try:
                        async with asyncio.timeout(limit):
                            delta = await anext(stream, None)
                    except TimeoutError:
                        raise LlmError(f"the language model sent nothing for {limit:g}s") from None
                    if delta is None:
                        break
                    limit = llm.deadlines.between_tokens_s + GUARD_SLACK_S
                    draft.times_ms.setdefault(Stage.LLM_FIRST_TOKEN, self._now_ms())
                    draft.reply += delta
                    reply.emit(ReplyDelta(delta))
                    for chunk in chunker.feed(delta):
                        draft.times_ms.setdefault(Stage.FIRST_CHUNK, self._now_ms())
                        chunks.put_nowait((chunk, False))
            for chunk in chunker.finish():
                draft.times_ms.setdefault(Stage.FIRST_CHUNK, self._now_ms())
                chunks.put_nowait((chunk, False))
            return None
        except LlmError as error:
            chunks.put_nowait((SPOKEN_LLM_NOTICE, True))
            reply.emit(Notice(str(error)))  # now, not once the spoken notice has played
            return str(error)
        finally:
            chunks.put_nowait(None)

    async def _speak(self, draft: TurnDraft, reply: Reply, chunks: Chunks) -> None:
        """Synthesize chunk N+1 while chunk N plays; wait when enough audio is already queued."""
        max_ahead = self._conversation.max_audio_ahead_s
        while (item := await chunks.get()) is not None:
            text, is_notice = item
            try:
                async with contextlib.aclosing(self._engines.tts.synthesize(text, self._speaker.sample_rate)) as audio:
                    while True:
                        async with asyncio.timeout(self._conversation.tts_timeout_s):
                            chunk = await anext(audio, None)
                        if chunk is None:
                            break
                        draft.times_ms.setdefault(Stage.FIRST_TTS_CHUNK, self._now_ms())
                        await reply.until_committed()
                        await reply.wait_while(lambda: self._speaker.queued_seconds > max_ahead)
                        reply.play(self._speaker, chunk, spoken=not is_notice)
                        self._on_playing(reply)
            except Exception as error:  # one unspeakable chunk must not end the reply
                reply.emit(Notice(f"could not speak {text!r}: {why(error)}"))
        await reply.until_played()
