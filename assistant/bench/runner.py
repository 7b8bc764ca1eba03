"""Runs the benchmark suite: spoken questions and barge-ins through the duplex mode in real time, per TTS engine,
the sequential baseline beside them, idle CPU, launch → ready and peak RSS. Returns plain numbers (JSON-ready).

Every latency starts from ground truth (the fixture's known speech end or cut-in onset), never from the
pipeline's own VAD; barge-in is read from the output file (the last loud reply sample after the cut-in).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from assistant.bench.fixtures import QuestionInput, barge_in_inputs, question_inputs
from assistant.bench.sequential import run_sequential
from assistant.bench.spans import silent_after
from assistant.bench.wer import normalized_words, word_error_rate
from assistant.config import Config, render_toml
from assistant.core.conversation import Conversation
from assistant.core.events import State
from assistant.core.ports import Engines
from assistant.core.records import AFTER_SPEECH_END, Stage
from assistant.core.types import SAMPLE_RATE
from assistant.engines.loading import load_engines
from assistant.frontends.duplex import run_duplex
from assistant.machine import cpu_model

QUESTION_REPLY_S = 3.0  # a question's reply is cut after this much speech: latency is decided by then
CUT_IN_REPLY_S = 1.0  # the reply to a cut-in is not what the barge-in fixture measures
NOISE_DBFS = -60.0  # the "silence" of the idle measurement: a quiet room, not digital zero


@dataclass(frozen=True)
class BenchOptions:
    tts_engines: tuple[str, ...] = ("piper", "kokoro")
    questions: int | None = None  # None: all fixtures
    barge_ins: int | None = None
    idle_s: float = 30.0
    baseline: bool = False  # also run the naive sequential pipeline
    echo: bool = True  # the echo section (synthesised rooms, echo cancelling on and off), with the first engine
    turns: bool = True  # the turn-taking section (end-of-turn model against the fixed hangover), first engine
    paused: int | None = None  # utterances given a mid-sentence pause (None: all)
    load: bool = True  # the load section (the scenario idle and with busy processes), with the first engine


SHORT = BenchOptions(tts_engines=("piper",), questions=2, barge_ins=2, idle_s=5.0, baseline=True, echo=False,
                     paused=1, load=False)


def summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    return {"p50": round(statistics.median(values), 1), "p95": round(float(np.percentile(values, 95)), 1),
            "max": round(max(values), 1), "n": len(values)}


async def run_bench(config: Config, options: BenchOptions, progress: Callable[[str], None]) -> dict:
    results: dict = {"machine": machine(), "engines": {}}
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        work = Path(folder)
        questions = question_inputs(work, options.questions)
        progress("launch → ready (a fresh process answering one question)")
        results["process"] = launch_to_ready(config, questions[0].path, work)
        for index, engine in enumerate(options.tts_engines):
            tts_config = dataclasses.replace(config, tts=dataclasses.replace(config.tts, engine=engine))
            engines = await load_engines(tts_config)
            try:
                progress(f"[{engine}] {'; '.join(map(str, engines.about))}")
                results["engines"][engine] = await bench_engine(tts_config, engines, questions, options, work,
                                                                progress)
                if index == 0:
                    progress(f"idle CPU over {options.idle_s:g} s of silence, always listening")
                    results["process"]["idle_cpu_percent"] = await idle_cpu(tts_config, engines, options.idle_s,
                                                                            work)
                if index == 0 and options.turns:
                    progress(f"[{engine}] turn-taking: the end-of-turn model against the fixed hangover")
                    results["turn_taking"] = await _bench_turns(tts_config, engines, questions, work, options,
                                                                progress)
                if index == 0 and options.echo:
                    progress(f"[{engine}] echo: synthesised rooms, the canceller on and off")
                    results["echo"] = await _bench_echo(tts_config, engines, results["engines"][engine], work,
                                                        progress)
                if index == 0 and options.load:
                    from assistant.bench.load import bench_load

                    progress(f"[{engine}] under load: the scenario idle, then with busy processes")
                    results["load"] = await bench_load(tts_config, engines, questions, options, work, progress)
            finally:
                await engines.close()
    return results


async def bench_questions(config: Config, engines: Engines, questions: list[QuestionInput], work: Path,
                          progress: Callable[[str], None]) -> dict:
    """Each question through the duplex pipeline: voice-to-voice and the stages after the true end of speech, WER."""
    v2v, stages, eot_wait, first_synth, stalls, wer_parts = [], [], [], [], [], []
    stutter: list[tuple[float, ...]] = []  # per reply, its dry gaps
    eot_waits: dict[str, float] = {}
    for question in questions:
        result = await run_duplex(config, question.path, work / "out.wav", engines=engines,
                                  control=cap_replies(QUESTION_REPLY_S, CUT_IN_REPLY_S))
        stalls.append(result.loop_stall_ms)
        # A question with long pauses (jfk) may be taken as several turns: its latency is the last turn's.
        replied = [t for t in result.turns if Stage.FIRST_AUDIO in t.times_ms and Stage.SPEECH_END in t.times_ms]
        turn = max(replied, key=lambda t: t.times_ms[Stage.SPEECH_END], default=None)
        if turn is None:
            progress(f"  {question.utterance.file}: no reply was played ({[t.notice for t in result.turns]})")
            continue
        times, end_ms = turn.times_ms, question.speech_end_s * 1000
        v2v.append(times[Stage.FIRST_AUDIO] - end_ms)
        stages.append({str(stage): times[stage] - end_ms for stage in AFTER_SPEECH_END if stage in times})
        eot_wait.append(times[Stage.END_OF_TURN] - end_ms)
        eot_waits[question.utterance.file] = round(eot_wait[-1], 1)
        first_synth.append(times[Stage.FIRST_TTS_CHUNK] - times[Stage.FIRST_CHUNK])
        stutter.append(turn.stutter_gaps_ms)
        reference = question.utterance.text
        heard = " ".join(t.transcript for t in result.turns if t.transcript)
        wer_parts.append((word_error_rate(reference, heard), len(normalized_words(reference))))
        progress(f"  {v2v[-1]:6.0f} ms  {question.utterance.voice:22} {turn.transcript!r} → "
                 f"{turn.reply[:50]!r}")
    return {
        "voice_to_voice_ms": summary(v2v),
        "stages_after_speech_end_ms": {stage: round(statistics.median(row[stage] for row in stages if stage in row), 1)
                                       for stage in map(str, AFTER_SPEECH_END) if any(stage in row for row in stages)},
        "end_of_turn_wait_ms": round(statistics.median(eot_wait), 1) if eot_wait else None,
        "end_of_turn_waits_ms": eot_waits,  # per question file
        "first_chunk_synthesis_ms": round(statistics.median(first_synth), 1) if first_synth else None,
        "stutter": stutter_summary(stutter),
        "loop_stalls": stalls,
        "stt_wer": round(sum(w * n for w, n in wer_parts) / max(1, sum(n for _, n in wer_parts)), 3),
        "questions": len(questions),
        "replied": len(v2v),
    }


async def bench_engine(config: Config, engines: Engines, questions: list[QuestionInput], options: BenchOptions,
                       work: Path, progress: Callable[[str], None]) -> dict:
    engine_results = await bench_questions(config, engines, questions, work, progress)
    stalls = engine_results.pop("loop_stalls")
    v2v_p50 = engine_results["voice_to_voice_ms"]["p50"]
    barge_files, barge_pipeline, missed = [], [], 0
    reply_start_s = v2v_p50 / 1000 if v2v_p50 else 1.0
    for fixture in barge_in_inputs(work, reply_start_s, options.barge_ins):
        result = await run_duplex(config, fixture.path, work / "out.wav", engines=engines,
                                  control=cap_replies(None, CUT_IN_REPLY_S))
        stalls.append(result.loop_stall_ms)
        cut = next((t for t in result.turns if t.interrupted and t.barge_in_ms is not None), None)
        if cut is None:
            missed += 1
            progress(f"  barge-in {fixture.cut_in.text!r}: no reply was cut (it had ended, or never started)")
            continue
        barge_pipeline.append(cut.barge_in_ms or 0.0)
        barge_files.append(silent_after(work / "out.wav", fixture.cut_in_onset_s) * 1000)
        progress(f"  barge-in {barge_files[-1]:5.0f} ms  {fixture.cut_in.text!r} after {cut.reply[-40:]!r}")
    engine_results.update({
        "barge_in_ms": summary(barge_files),
        "barge_in_pipeline_ms": summary(barge_pipeline),
        "barge_in_missed": missed,
        "loop_stall_ms": {"max": max(s["max"] for s in stalls),
                          "p99": round(statistics.median(s["p99"] for s in stalls), 1)},
    })
    if options.baseline:
        engine_results["sequential"] = await bench_sequential(config, engines, questions, progress)
        async_p50 = engine_results["voice_to_voice_ms"]["p50"]
        sequential_p50 = engine_results["sequential"]["time_to_first_audio_ms"]["p50"]
        engine_results["sequential_over_async"] = (round(sequential_p50 / async_p50, 2)
                                                   if async_p50 and sequential_p50 else None)
    return engine_results


async def _bench_echo(config: Config, engines: Engines, engine_results: dict, work: Path,
                      progress: Callable[[str], None]) -> dict:
    from assistant.bench.echo import bench_echo, summarize_echo

    async def questions(config: Config, engines: Engines, questions: list[QuestionInput]) -> dict:
        measured = await bench_questions(config, engines, questions, work, progress)
        measured.pop("loop_stalls")
        return measured

    v2v_p50 = engine_results["voice_to_voice_ms"]["p50"]
    raw = await bench_echo(config, engines, work, v2v_p50 / 1000 if v2v_p50 else 1.0, questions, progress)
    return summarize_echo(raw)


async def _bench_turns(config: Config, engines: Engines, questions: list[QuestionInput], work: Path,
                       options: BenchOptions, progress: Callable[[str], None]) -> dict:
    from assistant.bench.turns import bench_turn_taking

    async def measure(config: Config, engines: Engines, questions: list[QuestionInput]) -> dict:
        return await bench_questions(config, engines, questions, work, progress)

    return await bench_turn_taking(config, engines, questions, measure, work, progress, options.paused)


async def bench_sequential(config: Config, engines: Engines, questions: list[QuestionInput],
                           progress: Callable[[str], None]) -> dict:
    ttfa = []
    for question in questions:
        turn = await run_sequential(config, engines, question.path, question.speech_end_s)
        ttfa.append(turn.first_audio_s * 1000 - question.speech_end_s * 1000)
        progress(f"  sequential {ttfa[-1]:6.0f} ms  {turn.transcript!r} → {turn.reply[:50]!r}")
    return {"time_to_first_audio_ms": summary(ttfa)}


def stutter_summary(replies: list[tuple[float, ...]]) -> dict:
    """Where the speaker ran dry inside replies: gaps per reply, their p95, and how many were long enough to hear
    as a stutter (over 150 ms)."""
    gaps = [gap for reply in replies for gap in reply]
    return {"gaps_per_reply": round(len(gaps) / max(1, len(replies)), 2),
            "p95_gap_ms": round(float(np.percentile(gaps, 95)), 1) if gaps else 0.0,
            "gaps_over_150_ms": sum(gap > 150 for gap in gaps), "replies": len(replies)}


def cap_replies(first_s: float | None, later_s: float):
    """A duplex `control` that cuts each reply after it has spoken this long: the first turn's (None: never)
    and later turns'. The benchmark measures how a reply starts; hearing all of it would only cost time."""

    async def control(conversation: Conversation) -> None:
        speaking_since: dict[int, float] = {}
        while True:
            await asyncio.sleep(0.05)
            turn = conversation.turn_taking.answering
            if conversation.state != State.SPEAKING or turn is None:
                continue
            since = speaking_since.setdefault(turn, time.monotonic())
            limit = first_s if turn == 1 else later_s
            if limit is not None and time.monotonic() - since > limit:
                conversation.interrupt()

    return control


async def idle_cpu(config: Config, engines: Engines, seconds: float, work: Path) -> float:
    """CPU time of this whole process (every thread) per wall second while the pipeline hears only a quiet room."""
    noise = np.random.default_rng(0).normal(0, 10 ** (NOISE_DBFS / 20), int(seconds * SAMPLE_RATE))
    path = work / "idle.wav"
    soundfile.write(str(path), noise.astype(np.float32), SAMPLE_RATE)
    cpu, wall = time.process_time(), time.monotonic()
    await run_duplex(config, path, None, engines=engines, watch_loop=False)  # the stall ticker is not the pipeline
    return round((time.process_time() - cpu) / (time.monotonic() - wall) * 100, 1)


def launch_to_ready(config: Config, question: Path, work: Path) -> dict:
    """A fresh `voice-assistant converse` process: from launch to the microphone running, and its peak RSS."""
    config_path = work / "config.toml"
    config_path.write_text(render_toml(config))
    command = [sys.executable, "-m", "assistant", "--config", str(config_path), "converse",
               "--input", str(question), "--output", str(work / "launch.wav"), "--json"]
    launched = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the launch run failed: {stderr.strip().splitlines()[-1:]}")
    ready = json.loads(stdout)["ready_monotonic_s"]
    max_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far: this one
    rss_mib = max_rss / 1024 if sys.platform != "darwin" else max_rss / 2**20
    return {"launch_to_ready_ms": round((ready - launched) * 1000, 1), "peak_rss_mib": round(rss_mib, 1)}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "processor": cpu_model(), "system": platform.platform(terse=True),
            "python": platform.python_version()}
