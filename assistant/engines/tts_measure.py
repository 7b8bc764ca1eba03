"""What each TTS engine gives the user on this machine: its first chunk's latency and its real-time factor while the
embedded LLM generates, measured once per machine and version and kept in the user's cache folder.

The key holds everything that changes the numbers: the engine and its voice, model file and threads, the CPU
count and model, and this package's version. `doctor --remeasure` measures again. An unreadable cache file is set
aside (renamed *.broken) with a one-line notice: it only costs one measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import statistics
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from assistant.config import Config
from assistant.core.ports import LanguageModel
from assistant.engines.tts import OnnxVoice, load_kokoro, load_piper
from assistant.machine import cpu_model
from assistant.paths import user_cache_dir

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
REPLY = "Sure, I can help with that. The kitchen lights are now off, and the door is locked."
LOAD_QUESTION = [{"role": "user", "content": "Tell me a long story about the sea."}]
REPEATS = 3


@dataclass(frozen=True)
class TtsMeasurement:
    first_chunk_ms: float  # from the text to the first clause's audio (median)
    rtf: float  # synthesis time / audio duration over a two-sentence reply (median)
    load: str  # what ran beside it: "the embedded LLM generating", or "nothing (…)"
    text_ready_ms: float | None = None  # the embedded LLM's first clause of text for a question, if it ran


def cache_path() -> Path:
    return user_cache_dir() / "tts-measurements.json"


def cache_key(config: Config, engine: str) -> str:
    if engine == "kokoro":
        kokoro = config.tts.kokoro
        settings = f"kokoro-v1.0.int8/{kokoro.voice}/{kokoro.lang}/speed {kokoro.speed}/threads {kokoro.threads}"
    else:
        piper = config.tts.piper
        settings = f"piper/{piper.voice}/speed {piper.speed}/threads {piper.threads}"
    llm = config.llm.embedded
    return " | ".join([settings, f"llm {llm.model}/threads {llm.threads}/yield {llm.yield_to_speech}",
                       f"{os.cpu_count()} cpus {cpu_model()}", f"voice-assistant {_package_version()}"])


def read_cache(path: Path) -> dict[str, TtsMeasurement]:
    """The cached measurements by key; a broken file is renamed *.broken, with a one-line notice."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != CACHE_FORMAT:
            return {}
        return {key: TtsMeasurement(**value) for key, value in data["measurements"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        aside = path.with_name(path.name + ".broken")
        with contextlib.suppress(OSError):
            path.replace(aside)
        log.warning("%s is unreadable (%s): set aside as %s; the TTS engines will be measured again",
                    path, type(error).__name__, aside.name)
        return {}


def write_cache(path: Path, measurements: dict[str, TtsMeasurement]) -> None:
    kept = read_cache(path)
    kept.update(measurements)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"format": CACHE_FORMAT,
                                     "measurements": {key: asdict(value) for key, value in kept.items()}},
                                    indent=1), encoding="utf-8")
    temporary.replace(path)


async def cached_measurements(config: Config, remeasure: bool = False) -> tuple[dict[str, TtsMeasurement], float]:
    """Kokoro's and Piper's measurements (from the cache unless `remeasure`), and the seconds spent measuring."""
    path = cache_path()
    keys = {engine: cache_key(config, engine) for engine in ("kokoro", "piper")}
    cached = {} if remeasure else read_cache(path)
    if all(key in cached for key in keys.values()):
        return {engine: cached[key] for engine, key in keys.items()}, 0.0
    started = time.monotonic()
    measured = await measure_engines(config)
    try:
        write_cache(path, {keys[engine]: value for engine, value in measured.items()})
    except OSError as error:
        log.warning("could not keep the TTS measurements in %s (%s): they will be taken again", path, error)
    return measured, time.monotonic() - started


async def measure_engines(config: Config) -> dict[str, TtsMeasurement]:
    """Each engine's first chunk and real-time factor while the embedded LLM generates (as during a reply)."""
    from assistant.engines.llm.embedded import EmbeddedLlm
    from assistant.errors import UserError

    llm: LanguageModel | None = None
    text_ready_ms = None
    try:
        llm = await EmbeddedLlm.load(config)
        text_ready_ms = await _first_clause_ms(llm)
        load = "the embedded LLM generating"
    except UserError as error:
        load = f"nothing (the embedded LLM could not run: {error})"
    results = {}
    try:
        for engine, loader in (("kokoro", load_kokoro), ("piper", load_piper)):
            voice = await asyncio.to_thread(loader, config)
            try:
                first_ms, rtf = await _under_load(voice, llm)
            finally:
                voice.close()
            results[engine] = TtsMeasurement(round(first_ms, 1), round(rtf, 3), load, text_ready_ms)
    finally:
        if llm is not None:
            await llm.close()
    return results


async def first_chunk_and_rtf(voice: OnnxVoice, text: str = REPLY) -> tuple[float, float]:
    """Seconds to the first chunk of `text` through `synthesize`, and the real-time factor of all of it."""
    started = time.perf_counter()
    first = 0.0
    samples = 0
    async for chunk in voice.synthesize(text):
        first = first or time.perf_counter() - started
        samples += len(chunk.samples)
    return first, (time.perf_counter() - started) / max(samples / voice.sample_rate, 1e-3)


async def _under_load(voice: OnnxVoice, llm: LanguageModel | None) -> tuple[float, float]:
    await first_chunk_and_rtf(voice, "Hi there.")  # warm-up
    stop = asyncio.Event()
    generating = asyncio.create_task(_generate(llm, stop)) if llm is not None else None
    try:
        runs = [await first_chunk_and_rtf(voice) for _ in range(REPEATS)]
    finally:
        stop.set()
        if generating is not None:
            await generating
    return statistics.median(r[0] for r in runs) * 1000, statistics.median(r[1] for r in runs)


async def _generate(llm: LanguageModel, stop: asyncio.Event) -> None:
    while not stop.is_set():
        async with contextlib.aclosing(llm.stream(LOAD_QUESTION)) as deltas:
            async for _ in deltas:
                if stop.is_set():
                    break


async def _first_clause_ms(llm: LanguageModel) -> float:
    from assistant.core.chunker import ClauseChunker

    timings = []
    for _ in range(2):  # the first one warms the prompt cache, as a session's warm-up does
        chunker, started = ClauseChunker(), time.perf_counter()
        async with contextlib.aclosing(llm.stream([{"role": "user", "content": "What is the capital of France?"}])) \
                as deltas:
            async for delta in deltas:
                if isinstance(delta, str) and chunker.feed(delta):
                    break
        timings.append(time.perf_counter() - started)
    return round(timings[-1] * 1000, 1)


def _package_version() -> str:
    try:
        return version("voice-assistant")
    except PackageNotFoundError:
        return "unknown"
