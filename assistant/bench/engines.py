"""Engine benchmark: load times, per-call costs and accuracy of each engine alone. Prints numbers (medians).

    python -m assistant.bench.engines [--config PATH] [--repeats N]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from assistant.audio.files import read_speech
from assistant.bench.wer import word_error_rate
from assistant.config import Config, load_config
from assistant.core.speech_detector import SpeechDetector
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE
from assistant.engines.llm.choose import load_llm
from assistant.engines.stt import WhisperStt, resolve_whisper_dir
from assistant.engines.tts import load_kokoro, load_piper
from assistant.engines.tts_measure import first_chunk_and_rtf
from assistant.engines.vad import SileroModel, load_silero_model

JFK = Path(__file__).resolve().parent / "fixtures" / "questions-jfk.flac"  # the whole 11 s recording
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms"


def bench_vad(config: Config, audio: np.ndarray) -> SileroModel:
    model, load = timed(load_silero_model, config)
    frames = [audio[i:i + FRAME_SAMPLES] for i in range(0, len(audio) - FRAME_SAMPLES, FRAME_SAMPLES)]
    costs = []
    for frame in frames:
        _, cost = timed(model.probability, frame)
        costs.append(cost)
    print(f"vad   load {load * 1000:.0f} ms; per 32 ms frame median {statistics.median(costs) * 1000:.2f} ms, "
          f"p99 {np.percentile(costs, 99) * 1000:.2f} ms")
    return model


def bench_stt(config: Config, audio: np.ndarray, repeats: int) -> list:
    three_seconds = audio[int(0.2 * SAMPLE_RATE):int(3.2 * SAMPLE_RATE)]
    engines = []
    for method in ("fast", "reference"):
        stt_config = dataclasses.replace(config.stt, method=method)
        engine, load = timed(WhisperStt, resolve_whisper_dir(config), stt_config, load_silero_model(config),
                             SpeechDetector(config.vad))
        engine.transcribe(three_seconds)  # warm-up
        short = [timed(engine.transcribe, three_seconds)[1] for _ in range(repeats)]
        text, whole = timed(engine.transcribe, audio)
        print(f"stt   {method:9} load {load * 1000:.0f} ms; final for 3 s of speech {median_ms(short)}; "
              f"jfk (11 s) {whole * 1000:.0f} ms, WER {word_error_rate(JFK_TEXT, text) * 100:.1f} %")
        engines.append(engine)
    return engines


def bench_tts(config: Config, repeats: int) -> list:
    voices = []
    for loader in (load_kokoro, load_piper):
        voice, load = timed(loader, config)
        asyncio.run(first_chunk_and_rtf(voice))  # warm-up
        runs = [asyncio.run(first_chunk_and_rtf(voice)) for _ in range(repeats)]
        sure = [timed(voice.render_blocking, "Sure.")[1] for _ in range(repeats)]
        print(f"tts   {voice.name:24} load {load * 1000:.0f} ms; 'Sure.' {median_ms(sure)}; "
              f"first chunk (first clause) {median_ms([r[0] for r in runs])}; "
              f"real-time factor {statistics.median(r[1] for r in runs):.2f}")
        voices.append(voice)
    return voices


async def bench_llm(config: Config, repeats: int) -> object:
    embedded = dataclasses.replace(config, llm=dataclasses.replace(config.llm, backend="embedded"))
    started = time.perf_counter()
    choice = await load_llm(embedded)
    load = time.perf_counter() - started
    firsts, rates = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        first, pieces = 0.0, 0
        async for _delta in choice.model.stream(QUESTION):
            first = first or time.perf_counter() - started
            pieces += 1
        total = time.perf_counter() - started
        firsts.append(first)
        rates.append((pieces - 1) / max(total - first, 1e-6))
    print(f"llm   {choice.model.name:24} load {load * 1000:.0f} ms; first token {median_ms(firsts)}; "
          f"{statistics.median(rates):.0f} tokens/s")
    await choice.model.close()
    return choice.model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config = load_config(args.config)
    audio = read_speech(JFK)
    print("machine: 2 vCPU, no GPU; medians of", args.repeats, "runs")
    keep = [bench_vad(config, audio), *bench_stt(config, audio, args.repeats), *bench_tts(config, args.repeats),
            asyncio.run(bench_llm(config, args.repeats))]
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS with all {len(keep)} engines loaded: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
