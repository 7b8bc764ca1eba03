"""The turn-taking state machine: listening → user speaking → thinking → speaking, with barge-in.

One task consumes microphone frames and runs the VAD on each; speech events drive the states. A reply runs as
its own task (final transcript → LLM stream → clause chunks → TTS → speaker), so cancelling that one task stops
the LLM, the TTS and everything queued behind them. When the user speaks over the assistant, the speaker is
flushed in the same event-loop step as the VAD event, and the history keeps only what was played.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.config import Config
from assistant.core.chunker import ClauseChunker
from assistant.core.events import (
    ConversationEvent,
    FinalTranscript,
    MicLevel,
    ModeChanged,
    Notice,
    PartialTranscript,
    ReplyDelta,
    ReplyInterrupted,
    State,
    StateChanged,
    TurnFinished,
)
from assistant.core.history import History, Message
from assistant.core.ports import Engines, LlmError, Microphone, PlayingChunk, Speaker
from assistant.core.records import STAGES, TurnRecord
from assistant.core.turn_log import TurnLog
from assistant.core.types import FRAME_SAMPLES, MODES, PUSH_TO_TALK, SAMPLE_RATE, MicFrame, SpeechEnded, SpeechStarted

log = logging.getLogger(__name__)

SPOKEN_LLM_NOTICE = "Sorry, I can't think right now."
END_PAD_S = 0.2
GUARD_SLACK_S = 1.0  # audio kept after the last voiced frame for the final transcript


@dataclass
class Turn:
    record: TurnRecord
    audio_start: int  # input-timeline sample of the first buffered sample of this utterance
    frames: list[np.ndarray] = field(default_factory=list)
    playing: list[PlayingChunk] = field(default_factory=list)  # everything queued for the speaker, in order
    reply_chunks: list[PlayingChunk] = field(default_factory=list)  # the reply's own (not notices)
    reply_task: asyncio.Task | None = None
    finished: bool = False
    # Speculative end of turn: the answer may start before the end of the turn is confirmed. Until then it stays
    # invisible: its events are held, nothing is played, and the history is not touched.
    committed: asyncio.Event = field(default_factory=asyncio.Event)
    answered_offset: int | None = None  # the speech offset the running answer was started from
    held_events: list[ConversationEvent] = field(default_factory=list)
    user_message: Message | None = None  # as added to the history

    def audio_until(self, end_sample: int) -> np.ndarray:
        audio = np.concatenate(self.frames) if self.frames else np.zeros(0, dtype=np.float32)
        return audio[: max(0, end_sample - self.audio_start)]

    def heard_text(self) -> str:
        """The reply as far as it was played: whole chunks, then the played share of the words of the cut one."""
        words: list[str] = []
        for playing in self.reply_chunks:
            chunk_words = playing.chunk.text.split()
            if playing.played >= playing.total:
                words += chunk_words
            else:
                words += chunk_words[: math.floor(len(chunk_words) * playing.played_fraction)]
                break
        return " ".join(words)


class Conversation:
    def __init__(self, config: Config, engines: Engines, microphone: Microphone, speaker: Speaker,
                 turn_log: TurnLog | None = None) -> None:
        self.config = config
        self.engines = engines
        self.microphone = microphone
        self.speaker = speaker
        self.history = History(config.conversation.history_budget_chars)
        self.state = State.LISTENING
        self.records: list[TurnRecord] = []
        self._turn_log = turn_log or TurnLog(None)
        self._listeners: list[Callable[[ConversationEvent], None]] = []
        self._preroll: deque[MicFrame] = deque(maxlen=max(1, config.conversation.preroll_ms * SAMPLE_RATE
                                                          // 1000 // FRAME_SAMPLES))
        self._hearing: Turn | None = None  # the utterance being heard
        self._answering: Turn | None = None  # the turn being answered
        self._partial: asyncio.Task | None = None
        self._next_partial_at = 0
        self._background: set[asyncio.Task] = set()
        self._paused_at: float | None = None  # the reply is paused on a hint of speech, not yet a barge-in
        self._pause_onset = 0
        self._quiet_samples = 0
        self.mode = config.audio.mode
        self._frames_seen = 0  # input samples received so far
        self._last_voiced = 0  # end of the last frame the VAD found voiced

    # ---- plumbing

    def subscribe(self, listener: Callable[[ConversationEvent], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: ConversationEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken display must not break the conversation
                log.exception("event listener failed")

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self._emit(StateChanged(state))
            assistant_active = state in (State.THINKING, State.SPEAKING)
            self.engines.vad.set_min_speech_ms(self.config.barge_in.min_speech_ms if assistant_active
                                               else self.config.vad.min_speech_ms)
            if state != State.SPEAKING and self._paused_at is not None:
                self._paused_at = None
                self.speaker.resume()

    def _ms(self, when: float) -> float:
        """A monotonic time as ms on the input timeline."""
        return (when - self.microphone.time_of(0)) * 1000

    def _sample_ms(self, sample: int) -> float:
        return sample * 1000 / SAMPLE_RATE

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @property
    def idle(self) -> bool:
        return self.state == State.LISTENING and self._answering is None

    # ---- input: frames and speech events

    async def run(self) -> None:
        """Consume microphone frames until cancelled."""
        async for frame in self.microphone.frames():
            await self.on_frame(frame)

    async def on_frame(self, frame: MicFrame) -> None:
        self._preroll.append(frame)
        self._frames_seen = frame.start + FRAME_SAMPLES
        if self._hearing:
            self._hearing.frames.append(frame.samples)
        result = await self.engines.vad.process(frame.samples, frame.start)
        rms = float(np.sqrt(np.mean(frame.samples ** 2)))
        self._emit(MicLevel(20 * math.log10(max(rms, 1e-6)), result.probability))
        frame_end = frame.start + FRAME_SAMPLES
        if result.probability >= self.config.vad.end_threshold:
            self._last_voiced = frame_end
        if self.mode == PUSH_TO_TALK:  # the key takes turns; the VAD only trims and feeds the meter
            if self.state == State.USER_SPEAKING and result.probability >= self.config.vad.start_threshold:
                self._maybe_partial(frame_end)
        elif isinstance(result.event, SpeechStarted):
            self._on_speech_started(result.event.sample)
        elif self.state == State.SPEAKING and self.config.barge_in.enabled:
            self._pause_on_a_hint_of_speech(result.probability, frame.start)
        elif isinstance(result.event, SpeechEnded):
            self._on_speech_ended(result.event.sample)
        elif self.state == State.USER_SPEAKING:
            self._speculate(result.probability)
            if result.probability >= self.config.vad.start_threshold:
                self._maybe_partial(frame_end)

    def _on_speech_started(self, onset: int) -> None:
        if self.state == State.SPEAKING and self.config.barge_in.enabled:
            self._barge_in(onset)
        elif self.state == State.THINKING and self._answering is not None:
            self._resume_hearing(self._answering)
            return
        elif self.state != State.LISTENING:
            return
        self._begin_turn(onset)

    def _begin_turn(self, onset: int) -> None:
        first = self._preroll[0].start if self._preroll else onset
        turn = Turn(TurnRecord(turn=len(self.records) + 1), audio_start=first,
                    frames=[f.samples for f in self._preroll])
        turn.record.times_ms["speech_start"] = self._sample_ms(onset)
        self.records.append(turn.record)
        self._hearing = turn
        self._next_partial_at = onset + self.config.conversation.partial_interval_ms * SAMPLE_RATE // 1000
        self._set_state(State.USER_SPEAKING)

    # ---- push-to-talk

    def set_mode(self, mode: str) -> None:
        """Switch between always-listening and push-to-talk at runtime; the streams keep running."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(MODES)}")
        if mode == self.mode:
            return
        if self.mode == PUSH_TO_TALK and self.state == State.USER_SPEAKING:
            self.push_to_talk()  # a turn held open by the key ends with the switch
        self.mode = mode
        self.engines.vad.reset()
        self._emit(ModeChanged(mode))

    def push_to_talk(self) -> None:
        """The push-to-talk toggle: start a user turn (cutting the assistant off), or end the one in progress."""
        now = self._frames_seen
        if self.state == State.USER_SPEAKING and self._hearing is not None:
            self._on_speech_ended(min(now, max(self._last_voiced, self._hearing.audio_start)))
            return
        if self.state == State.SPEAKING:
            self._barge_in(now)
        elif self.state == State.THINKING and self._answering is not None:
            self._resume_hearing(self._answering)
            return
        self._begin_turn(now)

    def _resume_hearing(self, turn: Turn) -> None:
        """Speech again before any reply was played: the user had only paused; keep hearing the same turn."""
        self._drop_answer(turn)
        self._answering = None
        self._hearing = turn
        self._set_state(State.USER_SPEAKING)

    def _speculate(self, probability: float) -> None:
        """Start answering at the first quiet frame, and drop that answer if the user goes on.

        The hangover that confirms the end of a turn then overlaps the final transcript, the LLM's first tokens and
        the first chunk's synthesis, instead of coming before them.
        """
        turn = self._hearing
        if turn is None or not self.config.conversation.speculative_end_of_turn:
            return
        if probability < self.config.vad.end_threshold:
            if turn.reply_task is None:
                self._start_answer(turn, self._last_voiced)
        elif turn.reply_task is not None:
            self._drop_answer(turn)

    def _start_answer(self, turn: Turn, offset: int) -> None:
        if self._partial:
            self._partial.cancel()
        turn.answered_offset = offset
        audio = turn.audio_until(offset + int(END_PAD_S * SAMPLE_RATE))
        turn.reply_task = self._spawn(self._answer(turn, audio), name=f"turn-{turn.record.turn}")

    def _drop_answer(self, turn: Turn) -> None:
        """Forget an answer started too early: the user was only pausing."""
        if turn.reply_task:
            turn.reply_task.cancel()
        turn.reply_task, turn.answered_offset = None, None
        turn.committed.clear()
        turn.held_events.clear()
        if turn.user_message is not None:
            self.history.retract(turn.user_message)
            turn.user_message = None
        for key in STAGES[1:-1]:  # all but the onset, which stays, and first audio, which never came
            turn.record.times_ms.pop(key, None)
        turn.record.transcript = turn.record.reply = ""

    def _on_speech_ended(self, offset: int) -> None:
        turn = self._hearing
        if turn is None or self.state != State.USER_SPEAKING:
            return
        if turn.reply_task is not None and turn.answered_offset != offset:
            self._drop_answer(turn)  # it was started from other audio than the turn that ended
        turn.record.times_ms["speech_end"] = self._sample_ms(offset)
        turn.record.times_ms["end_of_turn"] = self._ms(time.monotonic())
        self._answering = turn
        self._set_state(State.THINKING)
        if turn.reply_task is None:
            self._start_answer(turn, offset)
        self._commit(turn)

    def _commit(self, turn: Turn) -> None:
        """The end of the turn is confirmed: the answer becomes visible and may play."""
        turn.committed.set()
        self._add_user_message(turn)
        for event in turn.held_events:
            self._emit(event)
        turn.held_events.clear()

    def _add_user_message(self, turn: Turn) -> None:
        if turn.committed.is_set() and turn.record.transcript and turn.user_message is None:
            turn.user_message = Message("user", turn.record.transcript)
            self.history.add(turn.user_message)

    def _turn_emit(self, turn: Turn, event: ConversationEvent) -> None:
        if turn.committed.is_set():
            self._emit(event)
        else:
            turn.held_events.append(event)

    def _maybe_partial(self, now_sample: int) -> None:
        if now_sample < self._next_partial_at or (self._partial and not self._partial.done()):
            return  # never queue a partial behind a running one
        self._next_partial_at = now_sample + self.config.conversation.partial_interval_ms * SAMPLE_RATE // 1000
        turn = self._hearing
        assert turn is not None
        self._partial = self._spawn(self._transcribe_partial(turn, turn.audio_until(now_sample)), name="partial")

    async def _transcribe_partial(self, turn: Turn, audio: np.ndarray) -> None:
        try:
            text = await self.engines.stt.partial(audio)
        except Exception as error:  # a failed partial is not worth a notice; the final decides
            log.warning("partial transcript failed: %s", error)
            return
        if text and self._hearing is turn and self.state == State.USER_SPEAKING:
            self._emit(PartialTranscript(text))

    def interrupt(self) -> None:
        """Stop the assistant (a key, not a voice): what was played stays in the history, marked interrupted."""
        if self.state == State.SPEAKING:
            self._barge_in(self._frames_seen)
        elif self.state == State.THINKING and self._answering is not None:
            turn = self._answering
            if turn.reply_task:
                turn.reply_task.cancel()
            turn.record.outcome, turn.record.interrupted = "interrupted", True
            self._emit(ReplyInterrupted("", 0.0))
            self._finish(turn)

    # ---- typed input

    def submit_text(self, text: str) -> None:
        """A typed message: answered (out loud) like a spoken one; it cuts off a reply in progress."""
        text = text.strip()
        if not text:
            return
        now = self._frames_seen
        if self.state == State.SPEAKING:
            self._barge_in(now)
        elif self._answering is not None:
            self.interrupt()
        if self._hearing is not None and self.state == State.USER_SPEAKING:
            self._drop_answer(self._hearing)
            self._hearing.record.outcome = "no speech"  # typing replaces what was being said
            self._finish(self._hearing)
        turn = Turn(TurnRecord(turn=len(self.records) + 1, transcript=text), audio_start=now)
        turn.record.times_ms["speech_end"] = turn.record.times_ms["end_of_turn"] = self._ms(time.monotonic())
        self.records.append(turn.record)
        self._answering = turn
        self._set_state(State.THINKING)
        self._commit(turn)
        self._emit(FinalTranscript(text))
        turn.reply_task = self._spawn(self._reply(turn, text), name=f"turn-{turn.record.turn}")

    def clear_history(self) -> None:
        self.history.clear()

    # ---- barge-in

    def _pause_on_a_hint_of_speech(self, probability: float, frame_start: int) -> None:
        """Silero needs 30–150 ms to be sure of speech; pausing on its first hint makes the cut feel instant.

        If the VAD confirms speech, the barge-in flushes the paused reply; if it stays quiet (a cough, a knock),
        the reply resumes where it stopped.
        """
        settings = self.config.barge_in
        if probability >= settings.pause_threshold:
            if self._paused_at is None:
                self._paused_at, self._pause_onset = self.speaker.pause(), frame_start
            self._quiet_samples = 0
        elif self._paused_at is not None:
            self._quiet_samples += FRAME_SAMPLES
            if self._quiet_samples >= settings.resume_after_ms * SAMPLE_RATE // 1000:
                self._paused_at = None
                self.speaker.resume()

    def _barge_in(self, onset: int) -> None:
        silent_at = self.speaker.flush()  # first: the user must not hear another word
        if self._paused_at is not None:  # it already went silent on the first hint of this speech
            silent_at, onset = self._paused_at, min(onset, self._pause_onset)
            self._paused_at = None
        turn = self._answering
        if turn is None:
            return
        if turn.reply_task:
            turn.reply_task.cancel()
        heard = turn.heard_text()
        record = turn.record
        record.barge_in_ms = (silent_at - self.microphone.time_of(onset)) * 1000
        record.reply, record.interrupted, record.outcome = heard, True, "interrupted"
        self.history.add(Message("assistant", heard, interrupted=True))
        self._emit(ReplyInterrupted(heard, record.barge_in_ms))
        self._finish(turn)

    # ---- the reply

    async def _answer(self, turn: Turn, audio: np.ndarray) -> None:
        record = turn.record
        try:
            async with asyncio.timeout(self.config.conversation.stt_timeout_s):
                text = await self.engines.stt.final(audio)
        except Exception as error:
            await turn.committed.wait()
            self._fail(turn, f"could not transcribe: {error or 'timed out'}")
            return
        record.times_ms["stt_final"] = self._ms(time.monotonic())
        record.transcript = text
        self._turn_emit(turn, FinalTranscript(text))
        if not text:
            await turn.committed.wait()
            record.outcome = "no speech"
            self._finish(turn)
            return
        await self._reply(turn, text)

    async def _reply(self, turn: Turn, text: str) -> None:
        record = turn.record
        self._add_user_message(turn)
        messages = self.history.for_llm()
        if turn.user_message is None:  # a speculative answer: the history gets the message once it is confirmed
            messages.append(Message("user", text).for_llm())
        chunks: asyncio.Queue[tuple[str, bool] | None] = asyncio.Queue()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._speak(turn, chunks))
                failure = await self._think(turn, chunks, messages)
        except Exception as error:  # a bug in a stage must end the turn, not the session
            log.exception("turn %d failed", record.turn)
            failure = f"internal error: {error}"
            self._turn_emit(turn, Notice(failure))
        await turn.committed.wait()  # the user may still go on and cancel it all
        if failure:
            heard = turn.heard_text()
            record.reply = heard
            self.history.add(Message("assistant", heard, interrupted=True))
            self._fail(turn, failure, shown=True)  # the notice was shown when the failure happened
            return
        self.history.add(Message("assistant", record.reply))
        record.outcome = "replied"
        self._finish(turn)

    async def _think(self, turn: Turn, chunks: asyncio.Queue[tuple[str, bool] | None],
                     messages: list[dict[str, str]]) -> str | None:
        """Stream the LLM reply into speakable chunks (text, is_notice). Returns a failure message, or None."""
        chunker = ClauseChunker()
        llm = self.config.llm
        # A guard for any backend: a hung model ends the turn, not the session. The slack lets an engine's own,
        # more specific timeout message win.
        limit = llm.ollama.connect_timeout_s + llm.first_token_timeout_s + GUARD_SLACK_S
        try:
            async with contextlib.aclosing(self.engines.llm.stream(messages)) as stream:
                while True:
                    try:
                        async with asyncio.timeout(limit):
                            delta = await anext(stream, None)
                    except TimeoutError:
                        raise LlmError(f"the language model sent nothing for {limit:g}s") from None
                    if delta is None:
                        break
                    limit = llm.token_timeout_s + GUARD_SLACK_S
                    turn.record.times_ms.setdefault("llm_first_token", self._ms(time.monotonic()))
                    turn.record.reply += delta
                    self._turn_emit(turn, ReplyDelta(delta))
                    for chunk in chunker.feed(delta):
                        turn.record.times_ms.setdefault("first_chunk", self._ms(time.monotonic()))
                        chunks.put_nowait((chunk, False))
            for chunk in chunker.flush():
                turn.record.times_ms.setdefault("first_chunk", self._ms(time.monotonic()))
                chunks.put_nowait((chunk, False))
            return None
        except LlmError as error:
            chunks.put_nowait((SPOKEN_LLM_NOTICE, True))
            self._turn_emit(turn, Notice(str(error)))  # now, not once the spoken notice has played
            return str(error)
        finally:
            chunks.put_nowait(None)

    async def _speak(self, turn: Turn, chunks: asyncio.Queue[tuple[str, bool] | None]) -> None:
        """Synthesize chunk N+1 while chunk N plays; wait when enough audio is already queued."""
        max_ahead = self.config.conversation.max_audio_ahead_s
        while (item := await chunks.get()) is not None:
            text, is_notice = item
            try:
                async with contextlib.aclosing(self.engines.tts.synthesize(text, self.speaker.sample_rate)) as audio:
                    while True:
                        async with asyncio.timeout(self.config.conversation.tts_timeout_s):
                            chunk = await anext(audio, None)
                        if chunk is None:
                            break
                        turn.record.times_ms.setdefault("first_tts_chunk", self._ms(time.monotonic()))
                        await turn.committed.wait()
                        while self.speaker.queued_seconds > max_ahead:
                            await asyncio.sleep(0.05)
                        playing = self.speaker.enqueue(chunk)
                        turn.playing.append(playing)
                        if not is_notice:
                            turn.reply_chunks.append(playing)
                        self._set_state(State.SPEAKING)
            except Exception as error:  # one unspeakable chunk must not end the reply
                self._emit(Notice(f"could not speak {text!r}: {error or 'timed out'}"))
        if turn.playing:
            await turn.playing[-1].done.wait()

    # ---- ending a turn

    def _fail(self, turn: Turn, message: str, shown: bool = False) -> None:
        turn.record.outcome, turn.record.notice = "failed", message
        if not shown:
            self._emit(Notice(message))
        self._finish(turn)

    def _finish(self, turn: Turn) -> None:
        if turn.finished:
            return
        turn.finished = True
        record = turn.record
        if turn.playing and turn.playing[0].started_at is not None:
            record.times_ms["first_audio"] = self._ms(turn.playing[0].started_at)
        if self._answering is turn:
            self._answering = None
        if self._hearing is turn:
            self._hearing = None
        if self.state in (State.THINKING, State.SPEAKING) and self._answering is None:
            self._set_state(State.LISTENING)
        self._emit(TurnFinished(record.to_json()))
        self._spawn(self._turn_log.append(record.to_json()), name="turn-log")

    async def close(self) -> None:
        if self._answering and self._answering.reply_task:
            self._answering.reply_task.cancel()
        pending = [t for t in self._background if t.get_name() == "turn-log"]
        for task in self._background:
            if task not in pending:
                task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._turn_log.close()
