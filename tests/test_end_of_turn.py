"""The end-of-turn model (Smart Turn v3.2, real) and the policy around it, on the bench's own voices: a finished
question is answered as soon as it sounds finished; a pause in the middle of one is waited out."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from assistant.bench.fixtures import load_manifest, pause_inputs, pause_points
from assistant.core.records import Stage
from assistant.core.types import SAMPLE_RATE
from assistant.engines.turn_detector import load_smart_turn_model, load_turn_detector
from tests.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, converse, fast_config

QUIET_AFTER_S = 0.2  # the model is asked after a short silence


@pytest.fixture(scope="module")
def smart_turn(config):
    return load_smart_turn_model(config)


def heard(samples: np.ndarray, until_s: float) -> np.ndarray:
    """What the model is given: the speech so far and a short silence after it."""
    return np.concatenate([samples[: int(until_s * SAMPLE_RATE)], np.zeros(int(QUIET_AFTER_S * SAMPLE_RATE),
                                                                           dtype=np.float32)])


@pytest.mark.parametrize("file", ["questions-00.flac", "questions-03.flac"])
def test_a_finished_question_scores_high_and_the_same_question_cut_mid_sentence_scores_low(smart_turn, file):
    # "What is the capital | of France?", "What should I cook | for dinner tonight?" (measured: 0.97 against 0.35,
    # and 0.99 against 0.28)
    questions = {u.file: u for u in load_manifest()["questions"]}
    (split,) = [s for s in pause_points() if s["file"] == file]
    samples = questions[file].samples()
    finished = smart_turn.probability(heard(samples, questions[file].speech_end_s))
    cut = smart_turn.probability(heard(samples, split["split_s"]))
    assert finished >= 0.9 and cut < 0.5, (finished, cut)


def test_the_model_reads_only_the_last_8_seconds_and_pads_short_audio(smart_turn):
    questions = {u.file: u for u in load_manifest()["questions"]}
    question = heard(questions["questions-00.flac"].samples(), questions["questions-00.flac"].speech_end_s)
    noise = np.random.default_rng(1).normal(0, 0.05, 10 * SAMPLE_RATE).astype(np.float32)
    alone = smart_turn.probability(question)
    after_ten_seconds_of_noise = smart_turn.probability(np.concatenate([noise, question]))
    assert abs(alone - after_ten_seconds_of_noise) < 0.1  # the noise is mostly cut off by the 8 s window
    assert 0.0 <= smart_turn.probability(np.zeros(0, dtype=np.float32)) <= 1.0  # nothing heard yet: still an answer


def converse_paused(config, tmp_path, end_of_turn: str, turn=None):
    # "What should I cook … for dinner tonight?": at the pause the model scores 0.02–0.28 (every check measured)
    (paused,) = [p for p in pause_inputs(tmp_path, limit=4, pauses_ms=(650,))
                 if p.utterance.file == "questions-03.flac"]
    config = fast_config(config)
    config = dataclasses.replace(config, turn=dataclasses.replace(config.turn, end_of_turn=end_of_turn))
    result, _ = converse(config, paused.path, tmp_path, ScriptedStt("what should I cook for dinner tonight"),
                         ScriptedLlm(["A warm soup would be nice."] * 3), ScriptedTts(), turn=turn)
    return paused, result


def test_with_the_model_a_mid_sentence_pause_is_waited_out_and_the_whole_question_answered(config, tmp_path):
    detector = load_turn_detector(config)
    try:
        paused, result = converse_paused(config, tmp_path, "smart", detector)
    finally:
        detector.close()
    spoken = [t for t in result.turns if Stage.SPEECH_END in t.times_ms]
    (turn,) = spoken  # one turn: the pause did not end it
    assert turn.times_ms[Stage.SPEECH_END] / 1000 == pytest.approx(paused.speech_end_s, abs=0.12)
    decision = turn.end_of_turn
    assert decision is not None and decision.decided_by == "model", decision
    assert len(decision.scores) >= 2 and decision.scores[0] < 0.5 <= decision.scores[-1]  # asked at the pause too
    wait_ms = turn.times_ms[Stage.END_OF_TURN] - turn.times_ms[Stage.SPEECH_END]
    assert wait_ms < config.vad.hangover_ms, wait_ms  # and the finished question sooner than the hangover would


def test_with_the_fixed_hangover_the_same_pause_ends_the_turn_half_way(config, tmp_path):
    paused, result = converse_paused(config, tmp_path, "silence")
    first = next(t for t in result.turns if Stage.SPEECH_END in t.times_ms)
    assert first.end_of_turn is not None and first.end_of_turn.decided_by == "silence"
    assert first.times_ms[Stage.SPEECH_END] / 1000 < paused.resume_s  # ended at the pause: "What should I cook"


def test_without_the_model_the_smart_policy_falls_back_to_the_hangover(config, tmp_path):
    _, result = converse_paused(config, tmp_path, "smart", turn=None)  # no model loaded: no answers
    first = next(t for t in result.turns if Stage.SPEECH_END in t.times_ms)
    assert first.end_of_turn is not None and first.end_of_turn.decided_by == "silence"


def test_a_failing_model_costs_the_turn_its_smart_end_never_the_session(config, tmp_path):
    class Broken:
        name = "broken"

        async def completion(self, audio):
            await asyncio.sleep(0)
            raise RuntimeError("onnx exploded")

        def close(self):
            pass

    _, result = converse_paused(config, tmp_path, "smart", turn=Broken())
    replied = [t for t in result.turns if t.end_of_turn is not None]
    assert replied and all(t.end_of_turn.decided_by == "silence" for t in replied)
    assert all(score is None for t in replied for score in t.end_of_turn.scores)
