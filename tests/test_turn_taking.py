"""Turn-taking on scripted speech probabilities: no asyncio, no models, CPU speed.

Each timeline is a list of per-frame speech probabilities (32 ms frames), run through the real streaming speech
detector and the turn-taking state machine; a small stand-in for the reply says when audio starts playing and
when it ends, as the conversation would.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.config import Config
from assistant.core.decisions import (
    AbandonTurn,
    BargeIn,
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
from assistant.core.speech_detector import SpeechDetector
from assistant.core.turn_taking import TurnTaking, vad_hangover_ms
from assistant.core.types import FRAME_SAMPLES, Mode

VOICED, QUIET, HINT = 0.9, 0.05, 0.3  # a hint: above the pause threshold (0.15), below the start one (0.5)
FRAME_MS = 32


def frames(ms: int) -> int:
    return round(ms / FRAME_MS)


@dataclass
class Timeline:
    """The machine, the detector in front of it, and everything decided, with the frame it was decided at."""

    config: Config = field(default_factory=lambda: config())
    decided: list[tuple[int, Decision]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.machine = TurnTaking(self.config)
        self.detector = SpeechDetector(self.config.vad)
        self.detector.set_hangover_ms(vad_hangover_ms(self.config))  # as the conversation does
        self.frame = 0

    def feed(self, probability: float, count: int = 1, partial_running: bool = False) -> list[Decision]:
        out: list[Decision] = []
        for _ in range(count):
            start = self.frame * FRAME_SAMPLES
            out += self.record(self.machine.on_frame(probability, self.detector.feed(probability, start), start,
                                                     partial_running))
            self.frame += 1
        return out

    def record(self, decisions: list[Decision]) -> list[Decision]:
        for decision in decisions:
            if isinstance(decision, RetuneVad):  # as the conversation does
                self.detector.set_min_speech_ms(decision.min_speech_ms)
        self.decided += [(self.frame, d) for d in decisions]
        return decisions

    def do(self, decisions: list[Decision]) -> list[Decision]:
        return self.record(decisions)

    def of(self, kind: type) -> list[Decision]:
        return [d for _, d in self.decided if isinstance(d, kind)]

    @property
    def states(self) -> list[State]:
        return [d.state for d in self.of(ChangeState)]


def speak(timeline: Timeline, ms: int) -> list[Decision]:
    return timeline.feed(VOICED, frames(ms))


def pause(timeline: Timeline, ms: int) -> list[Decision]:
    return timeline.feed(QUIET, frames(ms))


def config(end_of_turn: str = "silence", **conversation) -> Config:
    """The fixed hangover ends turns unless asked otherwise: the end-of-turn model's tests are in their own part."""
    base = Config()
    return dataclasses.replace(base, conversation=dataclasses.replace(base.conversation, **conversation),
                               turn=dataclasses.replace(base.turn, end_of_turn=end_of_turn))


# ---- always listening

def test_a_turn_starts_on_speech_answers_at_the_first_quiet_frame_and_ends_after_the_hangover():
    t = Timeline()
    pause(t, 320)
    speak(t, 1000)
    (begin,) = t.of(BeginTurn)
    assert begin.onset == frames(320) * FRAME_SAMPLES  # the true onset, not when the detector was sure
    assert t.machine.state == State.USER_SPEAKING and t.of(StartAnswer) == []
    first_quiet = pause(t, 32)
    voiced_until = (frames(320) + frames(1000)) * FRAME_SAMPLES
    assert first_quiet == [StartAnswer(begin.turn, voiced_until)]  # speculation: answer from the first quiet frame
    pause(t, 600)
    assert t.of(EndTurn) == [EndTurn(begin.turn, voiced_until)]
    assert len(t.of(StartAnswer)) == 1 and t.of(DropAnswer) == []  # the early answer was the right one
    assert t.states == [State.USER_SPEAKING, State.THINKING]
    assert t.of(RetuneVad)[-1] == RetuneVad(t.config.barge_in.min_speech_ms)  # barge-in's own trigger while it answers
    assert t.machine.answering == begin.turn


def test_a_pause_shorter_than_the_hangover_drops_the_early_answer_and_the_turn_goes_on():
    t = Timeline()
    speak(t, 800)
    pause(t, 256)  # under the 480 ms hangover
    assert len(t.of(StartAnswer)) == 1
    assert DropAnswer(1) in speak(t, 32)  # the user goes on
    speak(t, 600)
    pause(t, 600)
    assert [type(d) for _, d in t.decided if isinstance(d, StartAnswer | DropAnswer | EndTurn)] == [
        StartAnswer, DropAnswer, StartAnswer, EndTurn]
    assert len(t.of(BeginTurn)) == 1 and t.of(EndTurn)[0].offset == t.of(StartAnswer)[-1].offset


def test_without_speculation_the_answer_starts_at_the_end_of_the_turn():
    t = Timeline(config(speculative_end_of_turn=False))
    speak(t, 800)
    pause(t, 400)
    assert t.of(StartAnswer) == []
    pause(t, 200)
    assert [type(d) for _, d in t.decided][-2:] == [StartAnswer, EndTurn]


def test_partials_come_at_the_configured_interval_and_never_behind_a_running_one():
    t = Timeline(config(partial_interval_ms=320))
    speak(t, 3200)
    partials = t.of(TranscribePartial)
    assert len(partials) == pytest.approx(3200 / 320 - 1, abs=1)
    gaps = {b.until - a.until for a, b in itertools.pairwise(partials)}
    assert gaps == {frames(320) * FRAME_SAMPLES}
    assert t.feed(VOICED, frames(640), partial_running=True) == []  # none while one runs
    assert t.of(TranscribePartial)[-1] == partials[-1]


def test_a_noise_burst_shorter_than_min_speech_starts_nothing():
    t = Timeline()
    t.feed(VOICED, 2)  # 64 ms < 96 ms
    pause(t, 1000)
    assert t.decided == []


# ---- barge-in

def answered_and_speaking(t: Timeline) -> int:
    speak(t, 800)
    pause(t, 600)
    end = t.of(EndTurn)[-1]
    t.do(t.machine.answer_playing(end.turn))
    assert t.machine.state == State.SPEAKING
    return end.turn


def test_a_hint_of_speech_pauses_the_reply_and_confirmed_speech_cuts_it_off():
    t = Timeline()
    turn = answered_and_speaking(t)
    hint_at = t.frame * FRAME_SAMPLES
    assert t.feed(HINT) == [PauseReply()]
    cut = speak(t, t.config.barge_in.min_speech_ms)  # the voiced time that confirms it
    barge = next(d for d in cut if isinstance(d, BargeIn))
    assert barge == BargeIn(turn, hint_at, was_paused=True)  # from the first hint, not when VAD was sure
    kinds = [type(d) for d in cut]
    # cut first, the turn ends, then the user's new turn begins
    assert kinds.index(BargeIn) < kinds.index(FinishTurn) < kinds.index(BeginTurn)
    assert t.machine.state == State.USER_SPEAKING and t.machine.hearing == turn + 1
    assert t.states[-2:] == [State.LISTENING, State.USER_SPEAKING]


def test_a_hint_that_stays_quiet_resumes_the_reply():
    t = Timeline()
    answered_and_speaking(t)
    assert t.feed(HINT) == [PauseReply()]
    resumed = pause(t, t.config.barge_in.resume_after_ms)
    assert resumed == [ResumeReply()]
    assert t.of(BargeIn) == [] and t.machine.state == State.SPEAKING


def test_with_barge_in_off_the_user_cannot_cut_in():
    base = Config()
    t = Timeline(dataclasses.replace(base, barge_in=dataclasses.replace(base.barge_in, enabled=False)))
    answered_and_speaking(t)
    speak(t, 1000)
    pause(t, 600)
    assert t.of(BargeIn) == [] and t.of(PauseReply) == [] and t.machine.state == State.SPEAKING


def test_speech_while_still_thinking_is_the_same_turn_going_on():
    t = Timeline()
    speak(t, 800)
    pause(t, 600)
    (end,) = t.of(EndTurn)
    assert t.machine.state == State.THINKING
    again = speak(t, 128)
    assert DropAnswer(end.turn) in again and t.machine.hearing == end.turn and t.machine.answering is None
    assert len(t.of(BeginTurn)) == 1 and t.machine.state == State.USER_SPEAKING


def test_the_reply_ending_goes_back_to_listening_and_finishes_the_turn():
    t = Timeline()
    turn = answered_and_speaking(t)
    assert t.do(t.machine.answer_finished(turn)) == [ChangeState(State.LISTENING), RetuneVad(96), FinishTurn(turn)]
    assert t.machine.idle and t.machine.hearing is None


def test_leaving_speaking_while_paused_resumes_the_speaker():
    t = Timeline()
    turn = answered_and_speaking(t)
    t.feed(HINT)
    assert ResumeReply() in t.do(t.machine.answer_finished(turn))


# ---- keys and typing

def test_push_to_talk_takes_turns_by_key_and_the_vad_only_trims():
    t = Timeline(dataclasses.replace(Config(), audio=dataclasses.replace(Config().audio, mode="push-to-talk")))
    pause(t, 320)
    (begin,) = t.do(t.machine.push_to_talk())[:1]
    assert isinstance(begin, BeginTurn) and t.machine.state == State.USER_SPEAKING
    speak(t, 1000)
    pause(t, 1000)  # a long pause: no end of turn without the key
    assert t.of(EndTurn) == [] and t.of(StartAnswer) == []
    ended = t.do(t.machine.push_to_talk())
    voiced_until = (frames(320) + frames(1000)) * FRAME_SAMPLES
    assert [d for d in ended if isinstance(d, EndTurn)] == [EndTurn(begin.turn, voiced_until, "key")]  # trimmed
    t.do(t.machine.answer_playing(begin.turn))
    cut = [type(d) for d in t.do(t.machine.push_to_talk())]  # pressed while it speaks: a barge-in, the next turn
    assert cut[0] is BargeIn and BeginTurn in cut and t.machine.state == State.USER_SPEAKING


def test_the_interrupt_key_stops_a_reply_thinking_or_speaking():
    t = Timeline()
    speak(t, 800)
    pause(t, 600)
    stopped = t.do(t.machine.interrupt())
    assert stopped[0] == StopReply(1) and FinishTurn(1) in stopped and t.machine.idle
    answered_and_speaking(t)
    assert isinstance(t.do(t.machine.interrupt())[0], BargeIn) and t.machine.idle


def test_typing_replaces_what_was_being_said_and_is_answered_at_once():
    t = Timeline()
    speak(t, 800)
    typed = t.do(t.machine.type_text("hello"))
    assert typed[:3] == [DropAnswer(1), AbandonTurn(1), FinishTurn(1)]
    assert typed[-1] == BeginTypedTurn(2, t.frame * FRAME_SAMPLES, "hello")
    assert t.machine.state == State.THINKING and t.machine.answering == 2


def test_switching_mode_ends_a_turn_held_open_by_the_key():
    t = Timeline(dataclasses.replace(Config(), audio=dataclasses.replace(Config().audio, mode="push-to-talk")))
    t.do(t.machine.push_to_talk())
    speak(t, 500)
    switched = t.do(t.machine.set_mode("always-listening"))
    assert any(isinstance(d, EndTurn) for d in switched) and switched[-1] == ChangeMode(Mode.ALWAYS_LISTENING)
    assert t.do(t.machine.set_mode(Mode.ALWAYS_LISTENING)) == []
    with pytest.raises(ValueError, match="unknown mode 'walkie-talkie'"):
        t.machine.set_mode("walkie-talkie")


# ---- any timeline at all: the invariants hold

EVENTS = st.one_of(
    st.tuples(st.just("frames"), st.sampled_from([VOICED, QUIET, HINT, 0.4]), st.integers(1, 25)),
    st.tuples(st.sampled_from(["push", "interrupt", "type", "mode", "playing", "finished"]), st.none(), st.none()))


def run_timeline(events: list, mode: str) -> Timeline:
    t = Timeline(dataclasses.replace(Config(), audio=dataclasses.replace(Config().audio, mode=mode)))
    machine = t.machine
    for kind, probability, count in events:
        if kind == "frames":
            t.feed(probability, count)
        elif kind == "push":
            t.do(machine.push_to_talk())
        elif kind == "interrupt":
            t.do(machine.interrupt())
        elif kind == "type":
            t.do(machine.type_text("typed"))
        elif kind == "mode":
            t.do(machine.set_mode(Mode.PUSH_TO_TALK if machine.mode == Mode.ALWAYS_LISTENING else
                                  Mode.ALWAYS_LISTENING))
        elif kind == "playing" and machine.answering is not None:
            t.do(machine.answer_playing(machine.answering))
        elif kind == "finished" and machine.answering is not None:
            t.do(machine.answer_finished(machine.answering))
        check_now(t)
    return t


def check_now(t: Timeline) -> None:
    machine = t.machine
    assert (machine.state == State.USER_SPEAKING) == (machine.hearing is not None and machine.answering is None)
    assert (machine.state in (State.THINKING, State.SPEAKING)) == (machine.answering is not None)
    if machine.state == State.LISTENING:
        assert machine.hearing is None


def check_history(t: Timeline) -> None:
    begun: set[int] = set()
    finished: set[int] = set()
    answer_running: dict[int, bool] = {}
    state = State.LISTENING
    for _, decision in t.decided:
        match decision:
            case BeginTurn(turn) | BeginTypedTurn(turn):
                assert turn not in begun and all(turn > b for b in begun)  # numbered in order, never reused
                begun.add(turn)
            case StartAnswer(turn):
                assert turn in begun and turn not in finished and not answer_running.get(turn)
                answer_running[turn] = True
            case DropAnswer(turn):
                assert turn in begun and turn not in finished
                answer_running[turn] = False
            case EndTurn(turn):
                assert answer_running.get(turn), "a turn ends only with an answer running for it"
            case BargeIn():
                assert state == State.SPEAKING
            case FinishTurn(turn):
                assert turn in begun and turn not in finished
                finished.add(turn)
            case ChangeState(new):
                assert new != state
                state = new
    assert state == t.machine.state


@settings(max_examples=300, deadline=None)
@given(events=st.lists(EVENTS, max_size=40), mode=st.sampled_from(["always-listening", "push-to-talk"]))
def test_every_timeline_keeps_the_invariants(events, mode):
    check_history(run_timeline(events, mode))


def test_two_hundred_timelines_of_three_turns_each():
    long_turns = [("frames", VOICED, 25), ("frames", QUIET, 20), ("playing", None, None), ("frames", HINT, 1),
                  ("frames", VOICED, 5), ("frames", QUIET, 20), ("finished", None, None)] * 3
    started = time.perf_counter()
    for _ in range(200):
        check_history(run_timeline(long_turns, "always-listening"))
    elapsed = time.perf_counter() - started
    # a number to read, not a timed assertion: no model, no event loop, so hundreds of timelines a second
    print(f"200 timelines of {sum(c or 0 for _, _, c in long_turns)} frames in {elapsed * 1000:.0f} ms")


# ---- the end-of-turn model (`[turn] end_of_turn = "smart"`)

def smart(**turn) -> Timeline:
    base = config("smart")
    return Timeline(dataclasses.replace(base, turn=dataclasses.replace(base.turn, **turn)))


def test_a_finished_sounding_turn_ends_as_soon_as_the_model_says_so():
    t = smart(check_after_ms=160)
    speak(t, 1000)
    pause(t, 128)
    assert t.of(JudgeTurnEnd) == []  # not yet: a short silence first
    (judge,) = [d for d in pause(t, 32) if isinstance(d, JudgeTurnEnd)]
    assert judge.offset == frames(1000) * FRAME_SAMPLES
    pause(t, 64)  # the model thinks for two frames; nothing ends meanwhile
    assert t.of(EndTurn) == []
    ended = t.do(t.machine.turn_end_judged(judge.turn, judge.offset, True))
    assert ForgetSpeech() in ended  # the VAD must hear the user going on as new speech
    assert [d for d in ended if isinstance(d, EndTurn)] == [EndTurn(judge.turn, judge.offset, "model")]
    assert t.machine.state == State.THINKING
    assert len(t.of(StartAnswer)) == 1  # the speculative answer started at the first quiet frame is kept


def test_an_unfinished_sounding_pause_is_waited_out_and_the_turn_goes_on():
    t = smart(check_after_ms=160, max_pause_ms=1200)
    speak(t, 800)
    (judge,) = [d for d in pause(t, 192) if isinstance(d, JudgeTurnEnd)]
    t.do(t.machine.turn_end_judged(judge.turn, judge.offset, False))
    pause(t, 700)  # longer than the 480 ms hangover: still waiting, the words sounded unfinished
    assert t.of(EndTurn) == [] and t.machine.state == State.USER_SPEAKING
    speak(t, 600)  # "… of France?"
    assert t.of(DropAnswer)  # the answer started at the pause is dropped
    (again,) = [d for d in pause(t, 192) if isinstance(d, JudgeTurnEnd)]
    assert again.turn == judge.turn and again.offset > judge.offset  # one turn, asked again about the new end
    t.do(t.machine.turn_end_judged(again.turn, again.offset, True))
    assert t.of(EndTurn) == [EndTurn(judge.turn, again.offset, "model")]


def test_a_pause_that_sounds_unfinished_still_ends_the_turn_at_the_pause_limit():
    t = smart(max_pause_ms=1000)
    speak(t, 800)
    (judge,) = [d for d in pause(t, 256) if isinstance(d, JudgeTurnEnd)]
    t.do(t.machine.turn_end_judged(judge.turn, judge.offset, False))
    pause(t, 640)
    assert t.of(EndTurn) == []
    pause(t, 160)
    assert t.of(EndTurn) == [EndTurn(judge.turn, judge.offset, "pause limit")]


@pytest.mark.parametrize("answer", ["none", "late"])
def test_without_an_answer_from_the_model_the_fixed_hangover_ends_the_turn(answer):
    t = smart(timeout_ms=200)
    speak(t, 800)
    (judge,) = [d for d in pause(t, 256) if isinstance(d, JudgeTurnEnd)]
    if answer == "none":  # no model, or it failed
        t.do(t.machine.turn_end_judged(judge.turn, judge.offset, None))
    pause(t, 480 - 256 - 32)
    assert t.of(EndTurn) == []
    pause(t, 64)
    assert t.of(EndTurn) == [EndTurn(judge.turn, judge.offset, "silence")]
    assert t.do(t.machine.turn_end_judged(judge.turn, judge.offset, True)) == []  # too late: already ended


def test_an_answer_about_speech_the_user_has_since_gone_on_from_is_ignored():
    t = smart()
    speak(t, 800)
    (judge,) = [d for d in pause(t, 224) if isinstance(d, JudgeTurnEnd)]
    speak(t, 320)  # the user went on while the model was thinking
    assert t.do(t.machine.turn_end_judged(judge.turn, judge.offset, True)) == []
    assert t.machine.state == State.USER_SPEAKING


def test_after_an_early_end_the_user_going_on_resumes_the_same_turn():
    t = smart()
    speak(t, 800)
    (judge,) = [d for d in pause(t, 192) if isinstance(d, JudgeTurnEnd)]
    for decision in t.do(t.machine.turn_end_judged(judge.turn, judge.offset, True)):
        if isinstance(decision, ForgetSpeech):  # as the conversation does
            t.detector.reset()
    speak(t, 400)  # nothing was played yet: the user had only paused
    assert t.machine.state == State.USER_SPEAKING and t.machine.hearing == judge.turn
    assert t.of(DropAnswer) and len(t.of(BeginTurn)) == 1
