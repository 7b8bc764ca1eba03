"""The engines: every model verified, Ollama (reachable? which models? the configured one?), what `auto` picks and
why, and the measured speed of STT, the LLM and each TTS engine (with the LLM running: cached per machine), with
the voice-to-voice latency they predict."""

from __future__ import annotations

import asyncio
import contextlib
import time

from assistant.config import Config
from assistant.core.ports import LlmError
from assistant.doctor.report import Report
from assistant.errors import UserError

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def check_models(report: Report, config: Config) -> bool:
    """True when every model the configured engines need is verified."""
    from assistant.engines.models import MODELS
    from assistant.engines.models.ensure import needed, problems
    from assistant.engines.models.verify import check

    folder = config.models_dir
    verified = [spec.name for spec in MODELS if not any(p for _, p in check(spec, folder / spec.folder))]
    report.line("models", f"{folder}: {len(verified)} of {len(MODELS)} verified (sha256)"
                          + (f"; not there: {', '.join(s.name for s in MODELS if s.name not in verified)}"
                             if len(verified) < len(MODELS) else ""))
    found = problems(config)
    if missing := [spec.name for spec, _, problem in found if problem == "missing"]:
        report.problem("models", f"needed, not in {folder}/: {', '.join(missing)}", "voice-assistant models pull")
    for spec, path, problem in found:
        if problem != "missing":
            report.problem("models", f"{path} is {problem}", f"voice-assistant models pull {spec.name}")
    if not found:
        report.line("", f"needed by this config: {', '.join(needed(config))}: all verified")
    return not found


async def check_ollama(report: Report, config: Config) -> None:
    from assistant.engines.llm.ollama import OllamaLlm

    llm, host, model = config.llm, config.llm.ollama.host, config.llm.ollama.model
    if llm.backend == "embedded":
        report.line("ollama", "not used ([llm] backend = \"embedded\")")
        return
    client = await asyncio.to_thread(OllamaLlm, llm)
    try:
        names = await client.pulled()
    except LlmError as error:
        if llm.backend == "ollama":
            report.problem("ollama", str(error), "start it with `ollama serve`, or set [llm] backend = \"embedded\"")
        else:
            report.line("ollama", f"{error}; `auto` answers with the embedded model")
        return
    finally:
        await client.close()
    report.line("ollama", f"{host} answers; models pulled: {', '.join(names) or 'none'}")
    if model in names or f"{model}:latest" in names:
        report.line("", f"the configured model '{model}' is there")
    elif llm.backend == "ollama":
        report.problem("ollama", f"the configured model '{model}' is not pulled", f"ollama pull {model}")
    else:
        report.line("", f"the configured model '{model}' is not pulled (`ollama pull {model}`): `auto` answers with "
                        "the embedded model")


async def check_engines(report: Report, config: Config, remeasure: bool = False) -> None:
    """Load each engine as a session would, time it on a short question, and predict voice-to-voice."""
    try:
        stt_s = await asyncio.to_thread(_time_stt, config)
        report.line("stt", f"Whisper {config.stt.model} ({config.stt.method}): final transcript in "
                           f"{stt_s * 1000:.0f} ms for a 1.6 s question")
        await _time_llm(report, config)
        await _tts_lines(report, config, remeasure)
    except UserError as error:
        report.problem("engines", str(error), "follow the hint in the message, then run `voice-assistant doctor` again")


def _time_stt(config: Config) -> float:
    from assistant.bench.fixtures import load_manifest
    from assistant.core.types import SAMPLE_RATE
    from assistant.engines.stt import load_stt

    question = load_manifest()["questions"][0]
    audio = question.samples()[: int((question.speech_end_s + 0.1) * SAMPLE_RATE)]
    stt = load_stt(config)
    try:
        stt.transcribe(audio)  # warm-up: the first call pays for allocations
        started = time.perf_counter()
        stt.transcribe(audio)
        return time.perf_counter() - started
    finally:
        stt.close()


async def _time_llm(report: Report, config: Config) -> None:
    """Which LLM `auto` (or the config) picks and why; its first token and first chunk of reply text (after one
    warm-up)."""
    from assistant.core.chunker import ClauseChunker
    from assistant.engines.llm.choose import load_llm

    choice = await load_llm(config)
    report.line("llm", f"{'auto picks' if config.llm.backend == 'auto' else 'configured'}: "
                       f"{choice.model.name} ({choice.why})")
    try:
        timings = []
        for _ in range(2):
            chunker, started, first_token = ClauseChunker(), time.perf_counter(), None
            async with contextlib.aclosing(choice.model.stream(QUESTION)) as deltas:
                async for delta in deltas:
                    first_token = first_token or time.perf_counter() - started
                    if isinstance(delta, str) and chunker.feed(delta):  # no tools given: text only
                        break
            timings.append((first_token or 0.0, time.perf_counter() - started))
    finally:
        await choice.model.close()
    first_token, first_chunk = timings[-1]
    report.line("", f"first token {first_token * 1000:.0f} ms, first chunk of text {first_chunk * 1000:.0f} ms")


async def _tts_lines(report: Report, config: Config, remeasure: bool) -> None:
    """Each TTS engine as `auto` sees it: measured with the LLM running (cached per machine), and `auto`'s pick."""
    from assistant.engines.tts_choice import decide, predicted_voice_to_voice_ms
    from assistant.engines.tts_measure import cache_path, cached_measurements

    measured, spent_s = await cached_measurements(config, remeasure=remeasure)
    source = f"measured now in {spent_s:.0f} s" if spent_s else f"cached in {cache_path()}"
    for engine, name in (("kokoro", f"Kokoro {config.tts.kokoro.voice}"), ("piper", f"Piper {config.tts.piper.voice}")):
        m = measured[engine]
        report.line("tts", f"{name}: first chunk in {m.first_chunk_ms:.0f} ms, real-time factor {m.rtf:.2f} with "
                           f"{m.load} → voice-to-voice ≈ {predicted_voice_to_voice_ms(config, m):.0f} ms")
    verdict = decide(config, measured["kokoro"], measured["piper"])
    if config.tts.engine == "auto":
        report.line("", f"auto picks {verdict.engine.capitalize()}: {verdict.why.removeprefix('auto: ')}")
    else:
        report.line("", f"configured: [tts] engine = {config.tts.engine!r}")
    report.line("", f"({source}; `voice-assistant doctor --remeasure` measures again)")
