"""The turn-taking section of the benchmark: the end-of-turn model against the fixed hangover.

Both policies hear the same inputs through the duplex pipeline in real time: the complete questions (how long
each waits for its end of turn, and voice-to-voice) and utterances with a mid-sentence pause inserted at a word
gap (is a reply started before the user's last word?). Times come from ground truth: the fixture's known end
of speech, and the first reply sample in the output file.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np

from assistant.bench.fixtures import PauseInput, QuestionInput, pause_inputs
from assistant.bench.spans import first_sample_time
from assistant.config import Config
from assistant.core.ports import Engines
from assistant.core.types import SAMPLE_RATE
from assistant.engines.turn_detector import load_smart_turn_model
from assistant.frontends.duplex import run_duplex

POLICIES = ("silence", "smart")
PAUSE_BUCKETS_MS = ((300, 500), (500, 900))  # the goals are stated per bucket: both ends inclusive
PAUSED_REPLY_S = 1.0  # how a reply starts is all this measures

Questions = Callable[[Config, Engines, list[QuestionInput]], Awaitable[dict]]


async def bench_turn_taking(config: Config, engines: Engines, questions: list[QuestionInput], measure: Questions,
                            work: Path, progress: Callable[[str], None], paused: int | None = None) -> dict:
    """Each policy on the complete questions (`measure` runs them) and on the paused utterances."""
    from assistant.bench.runner import cap_replies

    inputs = pause_inputs(work, paused)
    results: dict = {}
    for policy in POLICIES:
        policy_config = dataclasses.replace(config, turn=dataclasses.replace(config.turn, end_of_turn=policy))
        progress(f"  turn-taking by {policy}: {len(questions)} complete questions")
        measured = await measure(policy_config, engines, questions)
        progress(f"  turn-taking by {policy}: {len(inputs)} questions with a mid-sentence pause")
        premature, decided_by = [], Counter[str]()
        for paused_input in inputs:
            result = await run_duplex(policy_config, paused_input.path, work / "out.wav", engines=engines,
                                      control=cap_replies(PAUSED_REPLY_S, PAUSED_REPLY_S))
            early = replied_too_early(work / "out.wav", paused_input)
            premature.append((paused_input.pause_ms, early))
            decisions = [t.end_of_turn for t in result.turns if t.end_of_turn]
            decided_by.update(decision.decided_by for decision in decisions)
            scores = " ".join(f"{sound:.2f}/{words:.2f}" if words is not None else f"{sound:.2f}"
                              for d in decisions for sound, words in zip(d.scores, d.word_scores, strict=True)
                              if sound is not None)
            progress(f"    {'PREMATURE' if early else 'waited   '} {paused_input.pause_ms:4d} ms pause  "
                     f"{paused_input.words[0]!r} … {paused_input.words[1]!r}  (scores {scores or '-'})")
        results[policy] = {
            "voice_to_voice_ms": measured["voice_to_voice_ms"],
            "end_of_turn_wait_ms": measured["end_of_turn_waits_ms"],
            "premature": premature_rates(premature),
            "decided_by": dict(decided_by),
        }
    return summarize(results, config)


def replied_too_early(output: Path, paused_input: PauseInput) -> bool:
    """A reply started before the user's last word was over (it talked into the pause, or over the rest)."""
    first = first_sample_time(output)
    return first is not None and bool(first < paused_input.speech_end_s)


def premature_rates(outcomes: list[tuple[int, bool]]) -> dict[str, dict]:
    rates = {}
    for low, high in PAUSE_BUCKETS_MS:
        bucket = [early for pause_ms, early in outcomes if low <= pause_ms <= high]
        rates[f"{low}-{high}"] = {"rate": round(sum(bucket) / len(bucket), 3) if bucket else None, "n": len(bucket)}
    return rates


def summarize(results: dict, config: Config) -> dict:
    """Per policy: voice-to-voice, the wait for the end of turn on complete questions, premature rates; then the
    model's extra wait over the hangover per complete question, and its CPU per decision."""
    smart, silence = results["smart"]["end_of_turn_wait_ms"], results["silence"]["end_of_turn_wait_ms"]
    extra = [smart[question] - silence[question] for question in smart.keys() & silence.keys()]
    for policy in POLICIES:
        waits = list(results[policy]["end_of_turn_wait_ms"].values())
        results[policy]["end_of_turn_wait_ms"] = {"mean": round(statistics.mean(waits), 1) if waits else None,
                                                  "max": round(max(waits), 1) if waits else None}
    results["smart_extra_wait_ms"] = {"mean": round(statistics.mean(extra), 1) if extra else None,
                                      "questions_waiting_longer": sum(e > 0 for e in extra)}
    results["model_cpu_ms_per_decision"] = model_cpu_ms(config)
    return results


def model_cpu_ms(config: Config, decisions: int = 10) -> float:
    """CPU time of one decision (features and model, on the thread that runs it), median of `decisions`."""
    model = load_smart_turn_model(config)
    audio = np.random.default_rng(0).normal(0, 0.05, 3 * SAMPLE_RATE).astype(np.float32)
    times = []
    for _ in range(decisions):
        started = time.thread_time()
        model.probability(audio)
        times.append((time.thread_time() - started) * 1000)
    return round(statistics.median(times), 1)
