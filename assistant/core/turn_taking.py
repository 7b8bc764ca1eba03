"""Turn-taking: who speaks when. A pure state machine, in the spirit of LiveKit's AudioRecognition.

VAD results, keys, typed text and the reply's progress go in; decisions come out, in the order they must be
carried out. No asyncio, no engines, no audio: the conversation feeds it and does what it decides, and its tests
replay hundreds of timelines a second on scripted speech probabilities.

Time is the input timeline (samples since the first microphone sample), advanced by each frame.

The rules:
- Always listening, the VAD takes turns: speech starts a turn; at the first quiet frame an answer starts
  (speculatively: invisible until the end is confirmed), and is dropped if the user goes on. What confirms the end
  of the turn: with `[turn] end_of_turn = "smart"`, after a short silence the end-of-turn model is asked whether
  the words sound finished: if so the turn ends at once, else a pause is waited out up to `max_pause_ms`; with
  "silence" (or no answer from the model in time), the VAD's fixed hangover.
- Push-to-talk, a key takes turns; the VAD only trims the end to the last voiced frame.
- While the assistant speaks, a first hint of speech pauses the reply; confirmed speech is a barge-in (the reply
  is cut to what was heard); a hint that stays quiet resumes it.
- While it is still thinking (nothing played), speech again means the user had only paused: the same turn goes on.
"""

from __future__ import annotations

from assistant.config import Config
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
from assistant.core.events import State
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, Mode, SpeechEnded, SpeechStarted, VadEvent


def _samples(ms: int) -> int:
    return ms * SAMPLE_RATE // 1000


def vad_hangover_ms(config: Config) -> int:
    """How long the VAD waits after speech before it declares the speech over. With the end-of-turn model, that is
    the longest pause waited out (the model ends a finished-sounding turn sooner)."""
    return config.turn.max_pause_ms if config.turn.end_of_turn == "smart" else config.vad.hangover_ms


class TurnTaking:
    def __init__(self, config: Config) -> None:
        self._vad = config.vad
        self._barge_in = config.barge_in
        self._speculative = config.conversation.speculative_end_of_turn
        self._partial_every = _samples(config.conversation.partial_interval_ms)
        self._turn = config.turn
        self._smart = config.turn.end_of_turn == "smart"
        self._judged: int | None = None  # the offset the end-of-turn model was asked about, for the hearing turn
        self._asked_at = 0
        self._judging = False  # its answer is awaited
        self._blind = False  # it has no answer for this pause (none, failed, or too slow): the hangover decides
        self._preroll = max(1, _samples(config.conversation.preroll_ms) // FRAME_SAMPLES) * FRAME_SAMPLES
        self.state = State.LISTENING
        self.mode = Mode(config.audio.mode)
        self.hearing: int | None = None  # the turn whose audio is being gathered (until it finishes)
        self.answering: int | None = None  # the turn whose end is confirmed, being answered
        self._turns = 0
        self._answer_offset: int | None = None  # the offset the hearing turn's running answer started from
        self._heard_from = 0  # the first sample of the hearing turn's audio (its pre-roll)
        self._next_partial_at = 0
        self._paused = False  # the reply is paused on a hint of speech, not yet a barge-in
        self._pause_onset = 0
        self._quiet = 0
        self.now = 0  # input samples received so far
        self._last_voiced = 0  # end of the last frame the VAD found voiced
        self._out: list[Decision] = []

    @property
    def idle(self) -> bool:
        return self.state == State.LISTENING and self.answering is None

    # ---- inputs

    def on_frame(self, probability: float, event: VadEvent | None, frame_start: int,
                 partial_running: bool = False) -> list[Decision]:
        frame_end = frame_start + FRAME_SAMPLES
        self.now = frame_end
        if probability >= self._vad.end_threshold:
            self._last_voiced = frame_end
        voiced = probability >= self._vad.start_threshold
        if self.mode == Mode.PUSH_TO_TALK:  # the key takes turns; the VAD only trims and feeds the meter
            if self.state == State.USER_SPEAKING and voiced:
                self._maybe_partial(frame_end, partial_running)
        elif isinstance(event, SpeechStarted):
            self._speech_started(event.sample)
        elif self.state == State.SPEAKING and self._barge_in.enabled:
            self._pause_on_a_hint_of_speech(probability, frame_start)
        elif isinstance(event, SpeechEnded):
            self._speech_ended(event.sample, "pause limit" if self._smart else "silence")
        elif self.state == State.USER_SPEAKING:
            self._speculate(probability)
            if voiced:
                self._maybe_partial(frame_end, partial_running)
            self._judge_end()
        return self._decided()

    def turn_end_judged(self, turn: int, offset: int, finished: bool | None) -> list[Decision]:
        """The end-of-turn judges' answer (None: they had none) about `turn` going quiet at `offset`."""
        still_quiet = offset == self._judged == self._last_voiced  # the user has not gone on since
        if turn == self.hearing and still_quiet and self.state == State.USER_SPEAKING:
            self._judging, self._blind = False, finished is None
            if finished:
                self._end_early(offset, "model")
            elif self._blind:
                self._judged_blind()
        return self._decided()

    def push_to_talk(self) -> list[Decision]:
        """The key: start a user turn (cutting the assistant off), or end the one in progress."""
        self._push_to_talk()
        return self._decided()

    def _push_to_talk(self) -> None:
        if self.state == State.USER_SPEAKING and self.hearing is not None:
            self._speech_ended(min(self.now, max(self._last_voiced, self._heard_from)), "key")
        elif self.state == State.THINKING and self.answering is not None:
            self._resume_hearing()
        else:
            if self.state == State.SPEAKING:
                self._cut_off(self.now)
            self._begin_turn(self.now)

    def interrupt(self) -> list[Decision]:
        """Stop the assistant (a key, not a voice)."""
        self._interrupt()
        return self._decided()

    def type_text(self, text: str) -> list[Decision]:
        """A typed message: it cuts off a reply in progress and replaces what was being said."""
        if self.state == State.SPEAKING:
            self._cut_off(self.now)
        elif self.answering is not None:
            self._interrupt()
        if self.hearing is not None and self.state == State.USER_SPEAKING:
            turn = self.hearing
            self._out.append(DropAnswer(turn))
            self._out.append(AbandonTurn(turn))
            self._forget(turn)
        self._turns += 1
        self.answering = self._turns
        self._set_state(State.THINKING)
        self._out.append(BeginTypedTurn(self._turns, self.now, text))
        return self._decided()

    def announce(self) -> list[Decision]:
        """Something is due to be said: only while nobody speaks and nothing is answered (else nothing is decided,
        and the caller asks again once the turn is over)."""
        if self.idle and self.hearing is None:
            self._turns += 1
            self.answering = self._turns
            self._set_state(State.THINKING)
            self._out.append(BeginAnnouncement(self._turns))
        return self._decided()

    def set_mode(self, mode: Mode | str) -> list[Decision]:
        try:
            mode = Mode(mode)
        except ValueError:
            raise ValueError(f"unknown mode {mode!r}: expected one of {', '.join(Mode)}") from None
        if mode != self.mode:
            if self.mode == Mode.PUSH_TO_TALK and self.state == State.USER_SPEAKING:
                self._push_to_talk()  # a turn held open by the key ends with the switch
            self.mode = mode
            self._out.append(ChangeMode(mode))
        return self._decided()

    def answer_playing(self, turn: int) -> list[Decision]:
        """The answer to `turn` handed audio to the speaker."""
        if turn == self.answering:
            self._set_state(State.SPEAKING)
        return self._decided()

    def answer_finished(self, turn: int) -> list[Decision]:
        """The answer to `turn` ended on its own (replied, failed, or there was nothing to answer)."""
        if turn in (self.answering, self.hearing):
            self._forget(turn)
        return self._decided()

    # ---- the rules

    def _decided(self) -> list[Decision]:
        out, self._out = self._out, []
        return out

    def _set_state(self, state: State) -> None:
        if state == self.state:
            return
        self.state = state
        self._out.append(ChangeState(state))
        active = state in (State.THINKING, State.SPEAKING)
        self._out.append(RetuneVad(self._barge_in.min_speech_ms if active else self._vad.min_speech_ms))
        if state != State.SPEAKING and self._paused:
            self._paused = False
            self._out.append(ResumeReply())

    def _speech_started(self, onset: int) -> None:
        if self.state == State.SPEAKING and self._barge_in.enabled:
            self._cut_off(onset)
        elif self.state == State.THINKING and self.answering is not None:
            self._resume_hearing()
            return
        elif self.state != State.LISTENING:
            return
        self._begin_turn(onset)

    def _begin_turn(self, onset: int) -> None:
        self._turns += 1
        self.hearing = self._turns
        self._answer_offset, self._judged = None, None
        self._heard_from = max(0, self.now - self._preroll)
        self._next_partial_at = onset + self._partial_every
        self._out.append(BeginTurn(self._turns, onset))
        self._set_state(State.USER_SPEAKING)

    def _resume_hearing(self) -> None:
        """Speech again before any reply was played: the user had only paused; keep hearing the same turn."""
        turn = self.answering
        assert turn is not None
        self._out.append(DropAnswer(turn))
        self.answering, self.hearing, self._answer_offset = None, turn, None
        self._set_state(State.USER_SPEAKING)

    def _maybe_partial(self, now: int, partial_running: bool) -> None:
        if now < self._next_partial_at or partial_running or self.hearing is None:
            return  # never queue a partial behind a running one
        self._next_partial_at = now + self._partial_every
        self._out.append(TranscribePartial(self.hearing, now))

    def _speculate(self, probability: float) -> None:
        """Start answering at the first quiet frame, and drop that answer if the user goes on.

        The hangover that confirms the end of a turn then overlaps the final transcript, the LLM's first tokens and
        the first chunk's synthesis, instead of coming before them.
        """
        if self.hearing is None or not self._speculative:
            return
        if probability < self._vad.end_threshold:
            if self._answer_offset is None:
                self._answer_offset = self._last_voiced
                self._out.append(StartAnswer(self.hearing, self._last_voiced))
        elif self._answer_offset is not None:
            self._answer_offset = None
            self._out.append(DropAnswer(self.hearing))

    def _judge_end(self) -> None:
        """After a short silence, ask the end-of-turn model once per pause (the answer comes back through
        `turn_end_judged`); while it has no answer past its timeout, the fixed hangover decides."""
        if not self._smart or self.hearing is None:
            return
        if self.now - self._last_voiced < _samples(self._turn.check_after_ms):
            return
        if self._judged != self._last_voiced:
            self._judged, self._asked_at, self._judging, self._blind = self._last_voiced, self.now, True, False
            self._out.append(JudgeTurnEnd(self.hearing, self._last_voiced))
            return
        if self._judging and self.now - self._asked_at >= _samples(self._turn.timeout_ms):
            self._judging, self._blind = False, True
        if self._blind:
            self._judged_blind()

    def _judged_blind(self) -> None:
        """No answer from the model: end the turn after the fixed hangover, as without it."""
        if self.now - self._last_voiced >= _samples(self._vad.hangover_ms):
            self._end_early(self._last_voiced, "silence")

    def _end_early(self, offset: int, decided_by: str) -> None:
        """End the turn before the VAD's own (longer) hangover, and make the VAD hear the user going on afresh."""
        self._out.append(ForgetSpeech())
        self._speech_ended(offset, decided_by)

    def _speech_ended(self, offset: int, decided_by: str = "silence") -> None:
        turn = self.hearing
        if turn is None or self.state != State.USER_SPEAKING:
            return
        if self._answer_offset is not None and self._answer_offset != offset:
            self._answer_offset = None
            self._out.append(DropAnswer(turn))  # it was started from other audio than the turn that ended
        self.answering = turn
        self._set_state(State.THINKING)
        if self._answer_offset is None:
            self._answer_offset = offset
            self._out.append(StartAnswer(turn, offset))
        self._judged = None
        self._out.append(EndTurn(turn, offset, decided_by))

    def _pause_on_a_hint_of_speech(self, probability: float, frame_start: int) -> None:
        """Silero needs 30–150 ms to be sure of speech; pausing on its first hint makes the cut feel instant.

        If the VAD confirms speech, the barge-in cuts the paused reply off; if it stays quiet (a cough, a knock),
        the reply resumes where it stopped.
        """
        if probability >= self._barge_in.pause_threshold:
            if not self._paused:
                self._paused, self._pause_onset = True, frame_start
                self._out.append(PauseReply())
            self._quiet = 0
        elif self._paused:
            self._quiet += FRAME_SAMPLES
            if self._quiet >= _samples(self._barge_in.resume_after_ms):
                self._paused = False
                self._out.append(ResumeReply())

    def _cut_off(self, onset: int) -> None:
        was_paused = self._paused
        if was_paused:  # it already went silent on the first hint of this speech
            onset, self._paused = min(onset, self._pause_onset), False
        self._out.append(BargeIn(self.answering, onset, was_paused))
        if self.answering is not None:
            self._forget(self.answering)

    def _interrupt(self) -> None:
        if self.state == State.SPEAKING:
            self._cut_off(self.now)
        elif self.state == State.THINKING and self.answering is not None:
            self._out.append(StopReply(self.answering))
            self._forget(self.answering)

    def _forget(self, turn: int) -> None:
        """`turn` is over: neither heard nor answered any more; back to listening if nothing else is answered."""
        if self.answering == turn:
            self.answering = None
        if self.hearing == turn:
            self.hearing, self._answer_offset = None, None
        if self.state in (State.THINKING, State.SPEAKING) and self.answering is None:
            self._set_state(State.LISTENING)
        self._out.append(FinishTurn(turn))
