"""Loads the four engines a conversation needs, side by side, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from assistant.config import Config
from assistant.core.ports import Engines
from assistant.core.worker_thread import EngineThread
from assistant.engines.llm.choose import load_llm
from assistant.engines.stt import load_stt
from assistant.engines.tts import load_tts
from assistant.engines.vad import load_vad
from assistant.errors import UserError


async def load_engines(config: Config, on_progress: Callable[[str], None] = lambda message: None) -> Engines:
    """Load VAD, STT, LLM and TTS concurrently, each on a loader thread; reports each as it becomes ready."""
    loader = EngineThread("load-vad-stt")

    async def speech_in() -> tuple:
        vad = await loader.run(load_vad, config)
        on_progress("VAD ready (Silero)")
        stt = await loader.run(load_stt, config)
        on_progress(f"STT ready (Whisper {config.stt.model}, {config.stt.method})")
        return vad, stt

    async def language() -> tuple:
        choice = await load_llm(config)
        on_progress(f"LLM ready: {choice.reason}")
        return choice

    async def speech_out() -> tuple:
        choice = await load_tts(config)
        on_progress(f"TTS ready: {choice.reason}")
        return choice

    try:
        # A TaskGroup: when one engine fails to load (a missing model), the others stop loading too.
        async with asyncio.TaskGroup() as group:
            speech = group.create_task(speech_in())
            llm = group.create_task(language())
            tts = group.create_task(speech_out())
    except* UserError as failures:
        raise failures.exceptions[0] from None
    finally:
        loader.close()
    (vad, stt), llm_choice, tts_choice = speech.result(), llm.result(), tts.result()
    return Engines(vad, stt, llm_choice.model, tts_choice.engine, [llm_choice.reason, tts_choice.reason],
                   llm_choice.fallback)
