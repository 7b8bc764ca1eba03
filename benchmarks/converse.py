"""Conversation benchmark: spoken questions and barge-ins through the headless duplex mode, in real time.

    python benchmarks/converse.py [--tts auto|kokoro|piper]     (from the repo root, ../shared beside it)

Questions are spoken by Kokoro voices other than the reply voice, plus jfk.flac. Speech onsets/offsets are
read from the clean input audio (ground truth), not from the pipeline's own VAD; barge-in latency is
measured from the output file (interrupting onset → last reply sample).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import statistics
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from assistant.audio.spans import active_span, place
from assistant.audio_file import read_speech, resample
from assistant.config import load_config
from assistant.duplex import run_duplex
from assistant.engines import load_engines
from assistant.events import SAMPLE_RATE
from assistant.tts import load_kokoro

REPO = Path(__file__).resolve().parents[1]
JFK = REPO.parent / "shared" / "data" / "jfk.flac"
QUESTIONS = [
    ("am_michael", "What is the capital of France?"),
    ("bf_emma", "How many legs does a spider have?"),
    ("bm_george", "Can you suggest a name for my new puppy?"),
    ("af_bella", "What should I cook for dinner tonight?"),
    ("am_adam", "Why is the sky blue?"),
]
STORY = ("bm_george", "Tell me a long story about a brave knight and a dragon.")
CUT_IN = ("af_bella", "Stop, what time is it?")
CUT_AFTER_S = [2.0, 2.5, 3.0, 3.5, 4.0]  # after the first reply sample
JFK_SPEECH_END_S = 10.45  # measured once; crowd noise follows the last word


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (f"p50 {statistics.median(values):.0f} ms, p95 {np.percentile(values, 95):.0f} ms, "
            f"max {max(values):.0f} ms (n={len(values)})")


async def main(tts: str) -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config = load_config(None)
    config = dataclasses.replace(
        config, models=dataclasses.replace(config.models, dir=str(REPO / "models")),
        tts=dataclasses.replace(config.tts, engine=tts),
        conversation=dataclasses.replace(config.conversation, metrics_file=""))
    voices = {}

    def speak(voice: str, text: str) -> np.ndarray:
        if voice not in voices:
            voices[voice] = load_kokoro(dataclasses.replace(config, tts=dataclasses.replace(
                config.tts, kokoro=dataclasses.replace(config.tts.kokoro, voice=voice))))
        engine = voices[voice]
        return resample(engine.render_blocking(text), engine.sample_rate, SAMPLE_RATE)

    engines = await load_engines(config)
    print("engines:", "; ".join(engines.notes))
    v2v, stage_rows, barge, barge_files, stalls = [], [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        inputs = [(voice, speak(voice, text)) for voice, text in QUESTIONS] + [("jfk", read_speech(JFK))]
        for index, (voice, samples) in enumerate(inputs):
            path = Path(folder) / f"q{index}.wav"
            (truth,) = place([(0.5, samples)], 0.5 + len(samples) / SAMPLE_RATE + 1.0, path)
            if voice == "jfk":
                truth = (truth[0], 0.5 + JFK_SPEECH_END_S)
            result = await run_duplex(config, path, Path(folder) / f"q{index}-out.wav", engines=engines)
            turn = next(t for t in result.turns if t["outcome"] == "replied")
            times = turn["times_ms"]
            latency = times["first_audio"] - truth[1] * 1000
            v2v.append(latency)
            stage_rows.append({stage: times[stage] - truth[1] * 1000 for stage in
                               ("end_of_turn", "stt_final", "llm_first_token", "first_tts_chunk", "first_audio")})
            stalls.append(result.loop_stall_ms)
            print(f"{voice:10} {latency:6.0f} ms  {turn['transcript']!r} -> {turn['reply'][:60]!r}")
        story, cut_in = speak(*STORY), speak(*CUT_IN)
        for index, after in enumerate(CUT_AFTER_S):
            path, out = Path(folder) / f"b{index}.wav", Path(folder) / f"b{index}-out.wav"
            story_end = 0.5 + len(story) / SAMPLE_RATE
            # the reply starts ~1-1.5 s after the question ends; cut in `after` seconds into it
            cut_at = story_end + 1.3 + after
            truth = place([(0.5, story), (cut_at, cut_in)], cut_at + 5.0, path)
            result = await run_duplex(config, path, out, engines=engines)
            interrupted = [t for t in result.turns if t["interrupted"]]
            stalls.append(result.loop_stall_ms)
            if not interrupted:
                print(f"barge-in {index}: the reply had already ended before the cut-in (skipped)")
                continue
            barge.append(interrupted[0]["barge_in_ms"])
            played, rate = soundfile.read(str(out), dtype="float32")
            onset = truth[1][0]
            window = played[int(onset * rate) - int(0.5 * rate):int((onset + 0.6) * rate)]
            span = active_span(window, rate)
            if span is None:
                print(f"barge-in {index}: pipeline {barge[-1]:.0f} ms; the reply was in a pause at the cut-in")
                continue
            barge_files.append((span[1] - 0.5) * 1000)
            print(f"barge-in {index}: pipeline {barge[-1]:.0f} ms, from the files {barge_files[-1]:.0f} ms; "
                  f"heard {interrupted[0]['reply'][:50]!r}")
    await engines.close()
    for voice in voices.values():
        voice.close()
    print()
    print("voice-to-voice (true speech end -> first reply sample):", percentiles(v2v))
    for stage in stage_rows[0]:
        print(f"  {stage:16} median +{statistics.median(row[stage] for row in stage_rows):.0f} ms after speech end")
    print("barge-in (pipeline: onset -> flush):", percentiles(barge))
    print("barge-in (files: onset -> last loud reply sample):", percentiles(barge_files))
    print(f"event loop stall: max {max(s['max'] for s in stalls):.1f} ms, "
          f"p99 (median over runs) {statistics.median(s['p99'] for s in stalls):.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tts", default="auto", choices=("auto", "kokoro", "piper"))
    asyncio.run(main(parser.parse_args().tts))
