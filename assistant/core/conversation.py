"""The conversation: a thin coordinator between the microphone, turn-taking, the replies, and the speaker.

One task consumes microphone frames and runs the VAD on each; `TurnTaking` decides, and this carries its decisions
out in order: it gathers each utterance's audio, starts and drops answers (`Answerer`, each behind a `Reply`
handle), cuts the speaker off on a barge-in in the same event-loop step as the VAD event, and keeps the history
and the turn records. Timers and alarms that go off (from the toolbox) are said when nobody speaks: as a turn of
their own, or between two sentences of a reply.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.config import Config
from assistant.core.answer import Answerer
from assistant.core.decisions import (
    AbandonTurn,
    BargeIn,
    BeginAnnouncement,
    BeginTurn,
    BeginTypedTurn,
    ChangeMode,
    ChangeState,
    Decision,
    DropAnswer,
    EndTurn,
    FinishTurn,
    ForgetSpeech,
    JudgeTurnEnd,
    PauseReply,
    ResumeReply,
    RetuneVad,
    StartAnswer,
    StopReply,
    TranscribePartial,
)
from assistant.core.events import (
    ConversationEvent,
    FinalTranscript,
    MicLevel,
    ModeChanged,
    Notice,
    PartialTranscript,
    ReplyInterrupted,
    State,
    StateChanged,
    TurnFinished,
)
from assistant.core.history import History, Message
from assistant.core.ports import Engines, Microphone, Speaker
from assistant.core.quiet_gate import frame_power
from assistant.core.records import ANSWER_STAGES, Outcome, Stage, TurnDraft, TurnRecord
from assistant.core.reply import Reply
from assistant.core.tooling import Toolbox
from assistant.core.turn_judge import TurnJudge, turn_decision
from assistant.core.turn_log import TurnLog
from assistant.core.turn_taking import TurnTaking, vad_hangover_ms
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, MicFrame, Mode

log = logging.getLogger(__name__)

END_PAD_S = 0.2  # silence after the last voiced frame given to the final transcript


@dataclass
class Turn:
    """One utterance (or typed message): its draft record, its audio, and the reply being prepared for it."""

    draft: TurnDraft
    audio_start: int  # input-timeline sample of the first buffered sample of this utterance
    lost_before: tuple[int, int]  # the microphone's overflows and the speaker's underflows when it began
    frames: list[np.ndarray] = field(default_factory=list)
    reply: Reply | None = None

    def audio_until(self, end_sample: int) -> np.ndarray:
        audio = np.concatenate(self.frames) if self.frames else np.zeros(0, dtype=np.float32)
        return audio[: max(0, end_sample - self.audio_start)]


class Conversation:
    def __init__(self, config: Config, engines: Engines, microphone: Microphone, speaker: Speaker,
                 turn_log: TurnLog | None = None, toolbox: Toolbox | None = None) -> None:
        self.config = config
        self.engines = engines
        self.microphone = microphone
        self.speaker = speaker
        self.history = History(config.conversation.history_budget_chars)
        self.records: list[TurnRecord] = []  # every finished turn, in order
        self.turn_taking = TurnTaking(config)
        engines.vad.set_hangover_ms(vad_hangover_ms(config))  # the engines may have been loaded for another policy
        self._judge = TurnJudge(engines.turn, engines.words, config.turn)
        self.toolbox = toolbox
        self._due: deque[str] = deque()  # announcements (timers) waiting for a moment nobody speaks
        self._answerer = Answerer(config, engines, speaker, self.history, self._ms, self._playing, toolbox,
                                  self._take_due)
        self._turn_log = turn_log or TurnLog(None)
        self._listeners: list[Callable[[ConversationEvent], object]] = []
        self._preroll: deque[MicFrame] = deque(maxlen=max(1, config.conversation.preroll_ms * SAMPLE_RATE
                                                          // 1000 // FRAME_SAMPLES))
        self._turns: dict[int, Turn] = {}  # the turns not finished yet, by number
        self._partial: asyncio.Task[None] | None = None
        self._paused_at: float | None = None  # when the speaker went silent on a hint of speech
        self.soft_pauses = 0  # times the reply paused on a hint of speech (resumed, or turned into a barge-in)
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False

    # ---- plumbing

    @property
    def state(self) -> State:
        return self.turn_taking.state

    @property
    def mode(self) -> Mode:
        return self.turn_taking.mode

    @property
    def idle(self) -> bool:
        return self.turn_taking.idle

    def subscribe(self, listener: Callable[[ConversationEvent], object]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: ConversationEvent) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a broken display must not break the conversation
                log.exception("event listener failed")

    def _ms(self, when: float) -> float:
        """A monotonic time as ms on the input timeline."""
        return (when - self.microphone.time_of(0)) * 1000

    @staticmethod
    def _sample_ms(sample: int) -> float:
        return sample * 1000 / SAMPLE_RATE

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # ---- inputs

    async def run(self) -> None:
        """Consume microphone frames (and say timers when due) until cancelled."""
        if self.toolbox is not None:
            self._spawn(self._watch_timers(), name="timers")
        async for frame in self.microphone.frames():
            await self.on_frame(frame)

    async def on_frame(self, frame: MicFrame) -> None:
        self._preroll.append(frame)
        if (hearing := self._turns.get(self.turn_taking.hearing or 0)) is not None:
            hearing.frames.append(frame.samples)
        result = await self.engines.vad.process(frame.samples, frame.start)
        self._emit(MicLevel(10 * math.log10(max(frame_power(frame.samples), 1e-12)), result.probability))
        partial_running = self._partial is not None and not self._partial.done()
        self._carry_out(self.turn_taking.on_frame(result.probability, result.event, frame.start, partial_running))
        self.microphone.doze(result.quiet_below if self.turn_taking.idle else None)  # idle: fewer wake-ups

    def push_to_talk(self) -> None:
        """The push-to-talk toggle: start a user turn (cutting the assistant off), or end the one in progress."""
        self._carry_out(self.turn_taking.push_to_talk())

    def interrupt(self) -> None:
        """Stop the assistant (a key, not a voice): what was played stays in the history, marked interrupted."""
        self._carry_out(self.turn_taking.interrupt())

    def set_mode(self, mode: Mode | str) -> None:
        """Switch between always-listening and push-to-talk at runtime; the streams keep running."""
        self._carry_out(self.turn_taking.set_mode(mode))

    def submit_text(self, text: str) -> None:
        """A typed message: answered (out loud) like a spoken one; it cuts off a reply in progress."""
        if text := text.strip():
            self._carry_out(self.turn_taking.type_text(text))

    def clear_history(self) -> None:
        self.history.clear()

    def notice(self, message: str) -> None:
        """Something outside the turn went wrong (a sound device): tell the listeners; the session goes on."""
        self._emit(Notice(message))

    async def _watch_timers(self) -> None:
        assert self.toolbox is not None
        try:
            async for announcement in self.toolbox.announcements():
                self._due.append(announcement.text)
                self._announce_if_free()
        except Exception as error:  # a broken toolbox costs the timers, never the conversation
            log.exception("timers stopped")
            self.notice(f"timers stopped: {error}")

    def _announce_if_free(self) -> None:
        """Say what is due now if nobody speaks and nothing is answered; else it waits for the end of the turn
        (or for a pause between two sentences of the reply: `_take_due`)."""
        if self._due and not self._closing:
            self._carry_out(self.turn_taking.announce())

    def _take_due(self) -> list[str]:
        due = list(self._due)
        self._due.clear()
        return due

    # ---- carrying out what turn-taking decided

    def _carry_out(self, decisions: list[Decision]) -> None:
        for decision in decisions:
            match decision:
                case ChangeState(state):
                    self._emit(StateChanged(state))
                    self.microphone.doze(None)  # at once, not a dozing batch later (a key, a typed message)
                case RetuneVad(min_speech_ms):
                    self.engines.vad.set_min_speech_ms(min_speech_ms)
                case ChangeMode(mode):
                    self.engines.vad.reset()
                    self._emit(ModeChanged(mode))
                case BeginTurn(number, onset):
                    self._begin_turn(number, onset)
                case BeginTypedTurn(number, at, text):
                    self._begin_typed_turn(number, at, text)
                case BeginAnnouncement(number):
                    self._begin_announcement(number)
                case TranscribePartial(number, until):
                    self._transcribe_partial(self._turns[number], until)
                case StartAnswer(number, offset):
                    self._start_answer(self._turns[number], offset)
                case DropAnswer(number):
                    self._drop_answer(self._turns[number])
                case JudgeTurnEnd(number, offset):
                    turn = self._turns[number]
                    self._spawn(self._judge_end(turn, offset, turn.audio_until(self.turn_taking.now)), "end-of-turn")
                case ForgetSpeech():
                    self.engines.vad.reset()
                case EndTurn(number, offset, decided_by):
                    self._end_turn(self._turns[number], offset, decided_by)
                case PauseReply():
                    self._paused_at = self.speaker.pause()
                    self.soft_pauses += 1
                case ResumeReply():
                    self._paused_at = None
                    self.speaker.resume()
                case BargeIn(number, onset, was_paused):
                    self._barge_in(number, onset, was_paused)
                case StopReply(number):
                    self._stop_reply(self._turns[number])
                case AbandonTurn(number):
                    self._turns[number].draft.outcome = Outcome.NO_SPEECH
                case FinishTurn(number):
                    self._finish(number)

    def _begin_turn(self, number: int, onset: int) -> None:
        first = self._preroll[0].start if self._preroll else onset
        turn = Turn(TurnDraft(number), first, self._audio_lost(), frames=[f.samples for f in self._preroll])
        turn.draft.times_ms[Stage.SPEECH_START] = self._sample_ms(onset)
        self._turns[number] = turn

    def _begin_typed_turn(self, number: int, at: int, text: str) -> None:
        turn = Turn(TurnDraft(number, transcript=text), at, self._audio_lost())
        turn.draft.times_ms[Stage.SPEECH_END] = turn.draft.times_ms[Stage.END_OF_TURN] = self._ms(time.monotonic())
        self._turns[number] = turn
        turn.reply = Reply(number, self._emit)
        self._answerer.commit(turn.draft, turn.reply)
        self._emit(FinalTranscript(text))
        turn.reply.start(self._answered(turn, self._answerer.answer_text(turn.draft, turn.reply, text)))

    def _begin_announcement(self, number: int) -> None:
        turn = Turn(TurnDraft(number), self.turn_taking.now, self._audio_lost())
        self._turns[number] = turn
        turn.reply = Reply(number, self._emit)
        turn.reply.commit()
        turn.reply.start(self._answered(turn, self._answerer.announce(turn.draft, turn.reply,
                                                                      " ".join(self._take_due()))))

    def _transcribe_partial(self, turn: Turn, until: int) -> None:
        self._partial = self._spawn(self._partial_transcript(turn, turn.audio_until(until)), name="partial")

    async def _partial_transcript(self, turn: Turn, audio: np.ndarray) -> None:
        try:
            text = await self.engines.stt.partial(audio)
        except Exception as error:  # a failed partial is not worth a notice; the final decides
            log.warning("partial transcript failed: %s", error)
            return
        hearing = self.turn_taking.hearing
        if text and hearing == turn.draft.turn and self.state == State.USER_SPEAKING:
            self._emit(PartialTranscript(text))

    def _start_answer(self, turn: Turn, offset: int) -> None:
        if self._partial:
            self._partial.cancel()
        audio = turn.audio_until(offset + int(END_PAD_S * SAMPLE_RATE))
        turn.reply = Reply(turn.draft.turn, self._emit)
        turn.reply.start(self._answered(turn, self._answerer.answer_speech(turn.draft, turn.reply, audio)))

    def _drop_answer(self, turn: Turn) -> None:
        """Forget an answer started too early: the user was only pausing."""
        if turn.reply is not None:
            self._answerer.retract(turn.draft, turn.reply)
            turn.reply = None
        for stage in ANSWER_STAGES:
            turn.draft.times_ms.pop(stage, None)

    async def _judge_end(self, turn: Turn, offset: int, audio: np.ndarray) -> None:
        # The answer speculatively started at this pause is transcribing it: the words cue reads that transcript.
        judgement = await self._judge.judge(audio, turn.reply.transcript if turn.reply is not None else None)
        turn.draft.judgements.append(judgement)
        self._carry_out(self.turn_taking.turn_end_judged(turn.draft.turn, offset, self._judge.finished(judgement)))

    def _end_turn(self, turn: Turn, offset: int, decided_by: str) -> None:
        turn.draft.end_of_turn = turn_decision(decided_by, turn.draft.judgements)
        turn.draft.times_ms[Stage.SPEECH_END] = self._sample_ms(offset)
        turn.draft.times_ms[Stage.END_OF_TURN] = self._ms(time.monotonic())
        assert turn.reply is not None, "turn-taking starts an answer before it ends a turn"
        self._answerer.commit(turn.draft, turn.reply)

    async def _answered(self, turn: Turn, work: Coroutine[Any, Any, None]) -> None:
        """Run a reply's work, then tell turn-taking that the answer is over (a cancelled one says nothing)."""
        try:
            await work
        except Exception as error:  # a bug must end the turn, never leave the session thinking for ever
            log.exception("turn %d failed", turn.draft.turn)
            turn.draft.outcome, turn.draft.notice = Outcome.FAILED, f"internal error: {error}"
            self.notice(turn.draft.notice)
        self._carry_out(self.turn_taking.answer_finished(turn.draft.turn))

    def _playing(self, reply: Reply) -> None:
        self._carry_out(self.turn_taking.answer_playing(reply.turn))

    def _barge_in(self, number: int | None, onset: int, was_paused: bool) -> None:
        silent_at = self.speaker.discard()  # first: the user must not hear another word
        if was_paused and self._paused_at is not None:  # it already went silent on the first hint of this speech
            silent_at = self._paused_at
        self._paused_at = None
        turn = self._turns.get(number) if number is not None else None
        if turn is None:
            return
        heard = ""
        if turn.reply is not None:
            turn.reply.cancel()
            heard = turn.reply.heard_text()
        draft = turn.draft
        draft.barge_in_ms = (silent_at - self.microphone.time_of(onset)) * 1000
        draft.reply, draft.outcome = heard, Outcome.INTERRUPTED
        self.history.add(Message("assistant", heard, interrupted=True))
        self._emit(ReplyInterrupted(heard, draft.barge_in_ms))

    def _stop_reply(self, turn: Turn) -> None:
        if turn.reply is not None:
            turn.reply.cancel()
        turn.draft.outcome = Outcome.INTERRUPTED
        self._emit(ReplyInterrupted("", 0.0))

    def _audio_lost(self) -> tuple[int, int]:
        return self.microphone.overflows, self.speaker.underflows

    def _finish(self, number: int) -> None:
        turn = self._turns.pop(number, None)
        if turn is None:
            return
        if turn.reply is not None and (first_played := turn.reply.first_played_at) is not None:
            turn.draft.times_ms[Stage.FIRST_AUDIO] = self._ms(first_played)
            turn.draft.stutter_gaps_ms = turn.reply.dry_gaps_ms()
        overflows, underflows = self._audio_lost()
        turn.draft.overflows, turn.draft.underflows = overflows - turn.lost_before[0], underflows - turn.lost_before[1]
        record = turn.draft.freeze()
        self.records.append(record)
        self._emit(TurnFinished(record))
        self._spawn(self._turn_log.append(record), name="turn-log")
        asyncio.get_running_loop().call_soon(self._announce_if_free)  # once this turn's decisions are carried out

    async def close(self) -> None:
        self._closing = True
        for turn in self._turns.values():
            if turn.reply is not None:
                turn.reply.cancel()
        pending = [t for t in self._background if t.get_name() == "turn-log"]
        for task in self._background:
            if task not in pending:
                task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        replies = [turn.reply.task for turn in self._turns.values() if turn.reply and turn.reply.task]
        await asyncio.gather(*replies, return_exceptions=True)
        # Turns still under way when the session ends are kept in the records, as pending (not logged).
        self.records += [turn.draft.freeze() for turn in self._turns.values()]
        self.records.sort(key=lambda record: record.turn)
        self._turns.clear()
        self._turn_log.close()
