"""Timing and fault tests: real VAD on real speech, scripted STT/LLM/TTS misbehaving on cue."""

import asyncio
import dataclasses
import time

import numpy as np
import pytest

from assistant.bench.fixtures import load_manifest
from assistant.bench.spans import first_sample_time, place, sound_times
from assistant.core.chunker import ClauseChunker
from assistant.core.events import FinalTranscript, ReplyDelta, State
from assistant.core.ports import Engines, LlmError
from assistant.core.types import SAMPLE_RATE
from assistant.engines.vad import load_vad
from assistant.frontends.duplex import run_duplex
from tests.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, converse, fast_config, heard_seconds
from tests.util import FIRST_QUESTION_S, QUESTION_GAP_S

# Two questions: the first turn meets the fault, the second must work as if nothing happened.
FIRST_AT, SECOND_AT = FIRST_QUESTION_S, FIRST_QUESTION_S + QUESTION_GAP_S


@pytest.fixture
def two_questions(questions):
    return questions(2)


FAULTS = {
    "slow first token": [[0.8, "Fine, ", "thanks."]],
    "hang before first token": [["HANG"]],
    "hang mid-stream": [["Let me think, ", "HANG"]],
    "error mid-stream": [["Well, ", "the answer is", LlmError("Ollama error: out of memory")]],
}


@pytest.mark.parametrize("fault", FAULTS)
def test_llm_faults_end_the_turn_and_the_next_turn_works(config, two_questions, tmp_path, fault):
    wav, _ = two_questions
    llm = ScriptedLlm([*FAULTS[fault], ["The second answer."]])
    result, notices = converse(fast_config(config), wav, tmp_path, ScriptedStt(), llm, ScriptedTts())
    first, second = result.turns
    if fault == "slow first token":
        assert first.outcome == "replied" and first.reply == "Fine, thanks."
    else:
        assert first.outcome == "failed" and notices and first.notice
        assert first.times_ms.get("first_audio") is not None  # the spoken notice ("Sorry, …") was played
    assert second.outcome == "replied" and second.reply == "The second answer."
    assert second.times_ms["first_audio"] / 1000 > SECOND_AT


def test_a_partial_reply_cut_by_an_error_stays_in_history_as_interrupted(config, two_questions, tmp_path):
    wav, _ = two_questions
    llm = ScriptedLlm([["Paris is the capital. ", 0.6, "And also", LlmError("connection reset")], ["Two."]])
    result, _ = converse(fast_config(config), wav, tmp_path, ScriptedStt(), llm, ScriptedTts())
    assistant = [m for m in result.history if m.role == "assistant"]
    assert assistant[0].interrupted and assistant[0].content == "Paris is the capital."
    assert assistant[1].content == "Two." and not assistant[1].interrupted


def test_tts_failure_skips_that_chunk_and_keeps_speaking(config, two_questions, tmp_path):
    wav, _ = two_questions
    llm = ScriptedLlm([["First part, ", "BROKEN sentence here. ", "Last sentence."], ["Ok."]])
    result, notices = converse(fast_config(config), wav, tmp_path, ScriptedStt(), llm,
                               ScriptedTts(fail_marker="BROKEN"))
    assert any("BROKEN" in n for n in notices)
    assert result.turns[0].outcome == "replied"
    assert result.turns[1].outcome == "replied"


def test_stt_failure_is_a_notice_and_listening_goes_on(config, jfk, tmp_path):
    # the first question is shorter than the second: the STT fails on it, by its input
    place([(FIRST_AT, jfk[: int(1.5 * SAMPLE_RATE)]), (SECOND_AT, jfk[: int(2.3 * SAMPLE_RATE)])],
          total_s=SECOND_AT + 3.5, path=tmp_path / "in.wav")
    stt = ScriptedStt(fail_below_s=1.7)
    result, notices = converse(fast_config(config), tmp_path / "in.wav", tmp_path, stt, ScriptedLlm([["Yes."]]),
                               ScriptedTts())
    assert min(stt.heard) < 1.7 < max(stt.heard), stt.heard  # precondition: the two audios straddle the limit
    assert result.turns[0].outcome == "failed" and notices[0] == "could not transcribe: scripted STT failure"
    assert result.turns[1].outcome == "replied"


def test_a_transcript_that_times_out_says_so(config, questions, tmp_path):
    wav, _ = questions(1)
    result, notices = converse(fast_config(config), wav, tmp_path, ScriptedStt(hang=True), ScriptedLlm([["Yes."]]),
                               ScriptedTts())
    (turn,) = result.turns
    assert turn.outcome == "failed" and notices == ["could not transcribe: timed out"] == [turn.notice]


def test_a_dropped_early_answer_shows_nothing_even_when_its_speech_fails(config, tmp_path):
    # A pause mid-question starts an answer to the first phrase: its speech fails, but it is dropped when the user
    # goes on, so its failure notice must never be shown; the answer to the whole question plays.
    questions = load_manifest()["questions"]
    first, second = questions[0].samples(), questions[4].samples()
    gap_at = 0.3 + questions[0].speech_end_s
    place([(0.3, first), (gap_at + 0.3 - questions[4].speech_start_s, second)], total_s=8.0,
          path=tmp_path / "in.wav")
    stt = ScriptedStt(heard_seconds)
    # the early answer hears the first phrase (plus pre-roll and end pad, 0.4 s); the whole one half a phrase more
    first_s = questions[0].speech_end_s - questions[0].speech_start_s + 0.4
    whole_s = first_s + (questions[4].speech_end_s - questions[4].speech_start_s) / 2

    def answer(question: str) -> list:
        return ["Fine."] if float(question.split()[1]) > whole_s else ["BROKEN reply to half a question."]

    result, notices = converse(fast_config(config), tmp_path / "in.wav", tmp_path, stt, ScriptedLlm(answer),
                               ScriptedTts(fail_marker="BROKEN"))
    (turn,) = result.turns
    assert min(stt.heard) < whole_s < max(stt.heard), stt.heard  # precondition: an early answer was started
    assert turn.outcome == "replied" and turn.reply == "Fine."
    assert notices == [], notices


def test_backpressure_generation_waits_for_the_speaker(config, two_questions, tmp_path):
    wav, _ = two_questions
    long_reply = [f"Sentence number {i} goes on for a while. " for i in range(12)]  # ~2.4 s of tone each
    tts = ScriptedTts()
    synthesized = []
    original = tts.synthesize

    async def counting(text, sample_rate=None):
        synthesized.append(text)
        async for chunk in original(text, sample_rate):
            yield chunk

    tts.synthesize = counting
    base = fast_config(config)
    config = dataclasses.replace(base, conversation=dataclasses.replace(base.conversation, max_audio_ahead_s=2.0))
    result, _ = converse(config, wav, tmp_path, ScriptedStt(), ScriptedLlm([long_reply, ["Ok."]]), tts)
    first = result.turns[0]
    # The second question cut in ~2 s after the reply started: with 2 s allowed ahead of the speaker, only the
    # sentences being played or next in line had been synthesized, not all twelve.
    assert first.outcome == "interrupted"
    played_s = SECOND_AT - first.times_ms["first_audio"] / 1000
    before_cut = synthesized[: synthesized.index("Ok.")]
    # all but the last were queued: at most what had played + 2 s ahead + the one chunk that crossed the limit
    queued_s = sum(0.06 * len(text) for text in before_cut[:-1])
    assert queued_s <= played_s + 2.0 + 0.06 * max(map(len, before_cut)), before_cut
    assert len(before_cut) < len(long_reply), "the whole reply was synthesized at once"


def test_a_click_pauses_the_reply_briefly_then_it_resumes_without_losing_audio(config, jfk, tmp_path):
    phrase = jfk[: int(2.3 * SAMPLE_RATE)]
    click = jfk[int(0.9 * SAMPLE_RATE):int(0.93 * SAMPLE_RATE)]  # 30 ms of a vowel: a hint, not speech
    place([(FIRST_AT, phrase), (5.5, click)], total_s=12.0, path=tmp_path / "in.wav")
    reply = ["This reply is long enough to still be playing when the click happens, and then it goes on."]
    result, _ = converse(fast_config(config), tmp_path / "in.wav", tmp_path, ScriptedStt(),
                         ScriptedLlm([reply]), ScriptedTts())
    (turn,) = result.turns
    assert turn.outcome == "replied" and not turn.interrupted
    sound = sound_times(tmp_path / "out.wav")
    gaps = np.diff(sound)
    (gap_at,) = np.nonzero(gaps > 0.1)[0]  # exactly one pause, right after the click
    assert 5.5 <= sound[gap_at] <= 5.5 + 0.1 and 0.2 <= gaps[gap_at] <= 0.6
    chunker = ClauseChunker()
    expected_s = 0.06 * sum(len(chunk) for chunk in [*chunker.feed(reply[0]), *chunker.finish()])
    assert abs(len(sound) * 0.005 - expected_s) < 0.1  # every sample of the reply was played, none twice


def test_push_to_talk_takes_turns_by_key_and_a_press_while_speaking_is_a_barge_in(config, jfk, tmp_path):
    phrase = jfk[: int(2.3 * SAMPLE_RATE)]
    place([(0.5, phrase), (6.0, phrase[: int(1.5 * SAMPLE_RATE)])], total_s=10.0, path=tmp_path / "in.wav")
    base = fast_config(config)
    ptt = dataclasses.replace(base, audio=dataclasses.replace(base.audio, mode="push-to-talk"))
    presses = []

    async def keys(conversation):
        mic = conversation.microphone
        for at in (0.2, 3.0, 5.5, 8.6):  # start, end, start again (cutting the reply off), end
            while mic.started_at is None or time.monotonic() < mic.time_of(0) + at:
                await asyncio.sleep(0.005)
            presses.append((at, conversation.state))
            conversation.push_to_talk()

    long_reply = ["This is a long answer that keeps going for quite a while, and then some more. " * 3]
    stt = ScriptedStt(lambda seconds: "the long one" if seconds > 2.5 else "the short one")
    engines = Engines(load_vad(config), stt, ScriptedLlm([long_reply, ["Short."]]), ScriptedTts())
    result = asyncio.run(run_duplex(ptt, tmp_path / "in.wav", tmp_path / "out.wav", engines=engines, control=keys))
    engines.vad.close()
    assert [state for _, state in presses] == [State.LISTENING, State.USER_SPEAKING, State.SPEAKING,
                                               State.USER_SPEAKING]
    first, second = result.turns
    assert first.interrupted and first.barge_in_ms is not None  # the key cut the reply off
    assert first.transcript == "the long one"
    assert second.transcript == "the short one" and second.outcome == "replied"
    # the VAD trims: the turn ends at the last voiced frame, not at the key press
    assert abs(first.times_ms["speech_end"] / 1000 - (0.5 + 2.17)) < 0.15
    assert not sound_times(tmp_path / "out.wav")[sound_times(tmp_path / "out.wav") < 3.0].size


def test_a_typed_message_is_answered_aloud_and_cuts_off_a_reply(config, tmp_path):
    place([], total_s=7.0, path=tmp_path / "in.wav")
    typed = []

    async def keyboard(conversation):
        for at, text in ((0.5, "hello there"), (2.0, "never mind, how are you?")):
            while conversation.microphone.started_at is None or (
                    time.monotonic() < conversation.microphone.time_of(0) + at):
                await asyncio.sleep(0.005)
            typed.append(conversation.state)
            conversation.submit_text(text)

    engines = Engines(load_vad(config), ScriptedStt(), ScriptedLlm([["A long answer that goes on and on. " * 3],
                                                                    ["Fine."]]), ScriptedTts())
    result = asyncio.run(run_duplex(fast_config(config), tmp_path / "in.wav", tmp_path / "out.wav", engines=engines,
                                    control=keyboard))
    engines.vad.close()
    assert typed == [State.LISTENING, State.SPEAKING]
    first, second = result.turns
    assert first.transcript == "hello there" and first.interrupted
    assert second.transcript == "never mind, how are you?" and second.reply == "Fine."
    assert [m.role for m in result.history] == ["user", "assistant", "user", "assistant"]


def test_interrupt_key_stops_the_reply_and_keeps_what_was_heard(config, jfk, tmp_path):
    place([(FIRST_AT, jfk[: int(2.3 * SAMPLE_RATE)])], total_s=8.0, path=tmp_path / "in.wav")

    async def stop_key(conversation):
        while conversation.state != State.SPEAKING:
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)
        conversation.interrupt()

    engines = Engines(load_vad(config), ScriptedStt(), ScriptedLlm([["One two three four five. " * 6]]),
                      ScriptedTts())
    result = asyncio.run(run_duplex(fast_config(config), tmp_path / "in.wav", tmp_path / "out.wav", engines=engines,
                                    control=stop_key))
    engines.vad.close()
    (turn,) = result.turns
    assert turn.interrupted and 0 < len(turn.reply.split()) < 30
    assert result.history[-1].interrupted and result.history[-1].content == turn.reply


def test_a_speculative_answer_plays_only_after_the_end_of_turn_and_a_pause_drops_it(config, tmp_path):
    # Two phrases 0.3 s apart (less than the 480 ms hangover): one turn. The pause starts an answer that must be
    # dropped; the answer to the whole turn starts before the hangover ends but plays only after it.
    questions = load_manifest()["questions"]
    first, second = questions[0].samples(), questions[4].samples()  # clean speech, no pause inside either
    gap_at = 0.3 + questions[0].speech_end_s
    truth = place([(0.3, first), (gap_at + 0.3 - questions[4].speech_start_s, second)], total_s=8.0,
                  path=tmp_path / "in.wav")
    stt, llm = ScriptedStt(heard_seconds), ScriptedLlm(lambda question: ["Sure, ", "here it is."])
    result, _ = converse(fast_config(config), tmp_path / "in.wav", tmp_path, stt, llm, ScriptedTts())
    (turn,) = result.turns
    times = turn.times_ms
    assert turn.outcome == "replied" and turn.reply == "Sure, here it is."
    heard_s = float(turn.transcript.split()[1])
    assert heard_s >= truth[1][1] - truth[0][0]  # the answer is to the whole turn, not to the first phrase
    assert stt.heard[0] < heard_s and llm.calls >= 2  # the pause did start an answer, and it was dropped
    assert times["stt_final"] < times["end_of_turn"] <= times["first_audio"]
    assert [m.role for m in result.history] == ["user", "assistant"]
    assert result.history[0].content == turn.transcript
    assert first_sample_time(tmp_path / "out.wav") >= times["end_of_turn"] / 1000  # nothing played before it


def test_an_answer_started_early_stays_invisible_until_the_turn_ends(config, jfk, tmp_path):
    place([(0.3, jfk[: int(2.3 * SAMPLE_RATE)])], total_s=6.0, path=tmp_path / "in.wav")
    events = []
    engines = Engines(load_vad(config), ScriptedStt(heard_seconds), ScriptedLlm(lambda question: ["Hello ", "there."]),
                      ScriptedTts())
    result = asyncio.run(run_duplex(fast_config(config), tmp_path / "in.wav", tmp_path / "out.wav",
                                    engines=engines, on_event=events.append))
    engines.vad.close()
    (turn,) = result.turns
    # the transcript and the reply's words appear only once the turn is over (state: thinking), never while the
    # user might still go on, though both were ready before that
    thinking = next(i for i, e in enumerate(events) if getattr(e, "state", None) == State.THINKING)
    shown = [i for i, e in enumerate(events) if isinstance(e, FinalTranscript | ReplyDelta)]
    assert len(shown) == 3 and min(shown) > thinking
    assert turn.times_ms["stt_final"] < turn.times_ms["llm_first_token"] < turn.times_ms["end_of_turn"]


def test_audio_lost_during_a_turn_is_counted_in_its_record(config, questions, tmp_path):
    wav, _ = questions(2)

    async def lose_audio(conversation):  # as a busy machine would: input blocks lost while hearing, output late
        while conversation.state != State.USER_SPEAKING:
            await asyncio.sleep(0.01)
        conversation.microphone.overflows += 3
        while conversation.state != State.SPEAKING:
            await asyncio.sleep(0.01)
        conversation.speaker.underflows += 2

    result, _ = converse(fast_config(config), wav, tmp_path, ScriptedStt(), ScriptedLlm([["One."], ["Two."]]),
                         ScriptedTts(), control=lose_audio)
    first, second = result.turns
    assert (first.overflows, first.underflows) == (3, 2) and (second.overflows, second.underflows) == (0, 0)
    assert first.to_json()["overflows"] == 3 and first.to_json()["underflows"] == 2


def test_a_reply_waiting_for_room_on_the_speaker_plays_nothing_once_cut_off(config, two_questions, tmp_path):
    # The TTS feeder waits for room on the speaker. The cut drops the queued chunks, which wakes it at once: it must
    # not slip its next chunk in before the cancellation reaches it.
    wav, truth = two_questions
    long_reply = [f"Sentence number {i} goes on for a while. " for i in range(12)]  # ~2.4 s of tone each
    base = fast_config(config)
    config = dataclasses.replace(base, conversation=dataclasses.replace(base.conversation, max_audio_ahead_s=0.5))
    result, _ = converse(config, wav, tmp_path, ScriptedStt(), ScriptedLlm([long_reply, ["Ok."]]), ScriptedTts())
    first, second = result.turns
    assert first.outcome == "interrupted"
    onset = truth[1][0]
    sound = sound_times(tmp_path / "out.wav")
    after_cut = sound[sound > onset + 0.15]
    assert after_cut.size and after_cut[0] * 1000 >= second.times_ms["first_audio"] - 10, (after_cut[0], second)
