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
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from assistant.config import Config
from assistant.core.chime import chime
from assistant.core.chunker import ClauseChunker
from assistant.core.events import Announced, FinalTranscript, Notice, ReplyDelta
from assistant.core.history import History, Message
from assistant.core.ports import Engines, LlmError, Speaker, ToolSchemas
from assistant.core.records import Outcome, Stage, TurnDraft
from assistant.core.reply import Reply
from assistant.core.tool_round import ToolRunner, tool_messages
from assistant.core.tooling import Toolbox, ToolCall

log = logging.getLogger(__name__)

SPOKEN_LLM_NOTICE = "Sorry, I can't think right now."
GUARD_SLACK_S = 1.0  # the core's backstop waits this much longer than the model's own deadline, so its message wins
MAX_TOOL_ROUNDS = 3  # then the model must answer with what it has

Chunks = asyncio.Queue[tuple[str, bool] | None]  # (text, is a spoken notice), then None


def why(error: BaseException) -> str:
    """An exception as a few words: its message, or what it is when it has none (a timeout has none)."""
    if isinstance(error, TimeoutError):
        return str(error) or "timed out"
    return str(error) or type(error).__name__


class ReplyWords:
    """The reply's words as they come: added to the draft, shown, and cut into speakable chunks for the speaker."""

    def __init__(self, draft: TurnDraft, reply: Reply, chunks: Chunks, now_ms: Callable[[], float]) -> None:
        self._draft, self._reply, self._chunks, self._now_ms = draft, reply, chunks, now_ms
        self._chunker = ClauseChunker()
        self._flushed = False

    def say(self, delta: str) -> None:
        text = self._draft.reply
        if self._flushed and text and not text[-1].isspace() and delta[:1].isalnum():
            delta = " " + delta  # the answer after a tool round goes on from what was said before it
        self._flushed = False
        self._draft.reply += delta
        self._reply.emit(ReplyDelta(delta))
        self._queue(self._chunker.feed(delta))

    def flush(self) -> None:
        """Whatever is pending is a chunk now."""
        self._queue(self._chunker.finish())
        self._flushed = True

    def filler(self, text: str) -> None:
        self._chunks.put_nowait((text, True))  # spoken, but not part of the reply's words

    def _queue(self, chunks: list[str]) -> None:
        for chunk in chunks:
            self._draft.times_ms.setdefault(Stage.FIRST_CHUNK, self._now_ms())
            self._chunks.put_nowait((chunk, False))


class Answerer:
    def __init__(self, config: Config, engines: Engines, speaker: Speaker, history: History,
                 ms: Callable[[float], float], on_playing: Callable[[Reply], None],
                 toolbox: Toolbox | None = None, take_due: Callable[[], list[str]] = list) -> None:
        self._conversation = config.conversation
        self._tools_config = config.tools
        self._toolbox = toolbox
        self._tools = ToolRunner(config.tools, toolbox, ms) if toolbox is not None else None
        self._take_due = take_due  # announcements due (timers), to say between two sentences of a reply
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
            reply.heard(None)
            await reply.until_committed()
            self._fail(draft, reply, f"could not transcribe: {why(error)}")
            return
        draft.times_ms[Stage.STT_FINAL] = self._now_ms()
        draft.transcript = text
        reply.heard(text)
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
        failure: LlmError | str | None
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._speak(draft, reply, chunks))
                failure = await self._think(draft, reply, chunks, messages, text)
        except Exception as error:  # a bug in a stage must end the turn, not the session
            log.exception("turn %d failed", draft.turn)
            failure = f"internal error: {error}"
            reply.emit(Notice(failure))
        await reply.until_committed()  # the user may still go on and cancel it all
        if failure:
            heard = reply.heard_text()
            draft.reply = heard
            self._history.add(Message("assistant", heard, interrupted=True))
            # its notice was shown when the failure happened
            draft.outcome, draft.notice = Outcome.FAILED, str(failure)
            if isinstance(failure, LlmError) and failure.after_notice is not None:
                failure.after_notice()  # the spoken notice has played (`_speak` waited for it)
            return
        self._history.add(Message("assistant", draft.reply))
        draft.outcome = Outcome.REPLIED

    def _fail(self, draft: TurnDraft, reply: Reply, message: str) -> None:
        draft.outcome, draft.notice = Outcome.FAILED, message
        reply.emit(Notice(message))

    async def _think(self, draft: TurnDraft, reply: Reply, chunks: Chunks, messages: list[dict[str, Any]],
                     text: str) -> LlmError | None:
        """The reply as speakable chunks: a tool's answer to a plain request (the intent layer), else the LLM's
        stream with its tool calls. Returns the LLM's failure, or None."""
        words = ReplyWords(draft, reply, chunks, self._now_ms)
        try:
            if (intent := self._intent(text)) is not None and self._tools is not None:
                [call] = await self._tools.run(draft, reply, [intent], words.filler)
                reason = call.result.removeprefix("error: ").removeprefix(f"{call.name}: ")
                words.say(call.result if not call.failed else f"Sorry, {reason}.")
            else:
                await self._converse(draft, reply, messages, words)
            words.flush()
            return None
        except LlmError as error:
            chunks.put_nowait((SPOKEN_LLM_NOTICE, True))
            reply.emit(Notice(str(error)))  # now, not once the spoken notice has played
            return error
        finally:
            chunks.put_nowait(None)

    def _intent(self, text: str) -> ToolCall | None:
        mode = self._tools_config.intents
        if self._toolbox is None or mode == "off" or (mode == "auto" and self._engines.llm.calls_tools):
            return None
        return self._toolbox.intent(text)

    async def _converse(self, draft: TurnDraft, reply: Reply, messages: list[dict[str, Any]],
                        words: ReplyWords) -> None:
        """The LLM's reply; the tools it calls are run and their results sent back, for a few rounds at most."""
        tools = self._toolbox.schemas() if self._toolbox is not None and self._engines.llm.calls_tools else []
        for round_ in range(MAX_TOOL_ROUNDS + 1):
            calls = await self._stream(draft, messages, tools if round_ < MAX_TOOL_ROUNDS else (), words.say)
            if not calls or self._tools is None:
                return
            words.flush()  # what it said before calling them is said now, not once they are done
            records = await self._tools.run(draft, reply, calls, words.filler)
            messages = [*messages, *tool_messages(records)]

    async def _stream(self, draft: TurnDraft, messages: list[dict[str, Any]], tools: ToolSchemas,
                      say: Callable[[str], None]) -> Sequence[ToolCall]:
        """One LLM stream: its text said as it comes; the tool calls it asks for returned."""
        llm = self._engines.llm
        calls: list[ToolCall] = []
        # Each backend enforces its own deadlines; this backstop catches one that does not (or hangs anyway), so a
        # hung model ends the turn, never the session.
        limit = llm.deadlines.first_token_s + GUARD_SLACK_S
        async with contextlib.aclosing(llm.stream(messages, tools)) as stream:
            while True:
                try:
                    async with asyncio.timeout(limit):
                        delta = await anext(stream, None)
                except TimeoutError:
                    raise LlmError(f"the language model sent nothing for {limit:g}s") from None
                if delta is None:
                    return calls
                limit = llm.deadlines.between_tokens_s + GUARD_SLACK_S
                draft.times_ms.setdefault(Stage.LLM_FIRST_TOKEN, self._now_ms())
                if isinstance(delta, ToolCall):
                    calls.append(delta)
                else:
                    say(delta)

    async def announce(self, draft: TurnDraft, reply: Reply, text: str) -> None:
        """Say something due (a timer): a chime at once, then the words."""
        self._chime(reply)
        draft.reply = text
        reply.emit(Announced(text))
        chunks: Chunks = asyncio.Queue()
        chunker = ClauseChunker()
        for chunk in (*chunker.feed(text), *chunker.finish()):
            chunks.put_nowait((chunk, False))
        chunks.put_nowait(None)
        await self._speak(draft, reply, chunks)
        self._history.add(Message("assistant", text))
        draft.outcome = Outcome.REPLIED

    def _chime(self, reply: Reply) -> None:
        reply.play(self._speaker, chime(self._speaker.sample_rate), spoken=False)
        self._on_playing(reply)

    async def _speak(self, draft: TurnDraft, reply: Reply, chunks: Chunks) -> None:
        """Synthesize chunk N+1 while chunk N plays; wait when enough audio is already queued. Between two
        sentences of a reply, anything due (a timer) cuts in politely: a chime and its words."""
        while (item := await chunks.get()) is not None:
            text, is_notice = item
            if reply.committed and reply.spoken and (due := self._take_due()):
                self._chime(reply)
                for announcement in due:
                    reply.emit(Announced(announcement))
                    await self._say(draft, reply, announcement, is_notice=True)
            await self._say(draft, reply, text, is_notice)
        await reply.until_played()

    async def _say(self, draft: TurnDraft, reply: Reply, text: str, is_notice: bool) -> None:
        max_ahead = self._conversation.max_audio_ahead_s
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
