"""Loads the engines a conversation needs (VAD, STT, LLM, TTS and the end-of-turn model), side by side, off the
event loop."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable

from assistant.config import Config
from assistant.core import thread_priority
from assistant.core.ports import EngineInfo, EngineRole, Engines, LanguageModel, TextToSpeech
from assistant.core.thread_priority import Role
from assistant.core.worker_thread import EngineThread
from assistant.engines.llm.choose import load_llm
from assistant.engines.stt import WhisperStt, load_stt
from assistant.engines.tts_choice import load_tts
from assistant.engines.turn_detector import SmartTurnDetector, load_turn_detector
from assistant.engines.turn_words import WordsEndDetector, start_words_detector
from assistant.engines.vad import SileroVad, load_vad
from assistant.errors import UserError


async def load_engines(config: Config, on_ready: Callable[[EngineInfo], object] = lambda info: None) -> Engines:
    """Load VAD, STT, LLM, TTS and the end-of-turn model concurrently, each on a loader thread; reports each as it
    becomes ready."""
    thread_priority.configure(config.priority)
    # VAD and STT on loaders of their own: one after the other, they were the longest path to "listening"
    vad_loader, stt_loader = EngineThread("load-vad", Role.MODEL), EngineThread("load-stt", Role.MODEL)
    turn_loader = EngineThread("load-turn", Role.MODEL)

    async def voice_activity() -> tuple[SileroVad, EngineInfo]:
        vad = await vad_loader.run(load_vad, config)
        info = EngineInfo(EngineRole.VAD, "Silero")
        on_ready(info)
        return vad, info

    async def speech_to_text() -> tuple[WhisperStt, EngineInfo]:
        stt = await stt_loader.run(load_stt, config)
        info = EngineInfo(EngineRole.STT, f"Whisper {config.stt.model}", config.stt.method)
        on_ready(info)
        return stt, info

    async def language() -> tuple[LanguageModel, EngineInfo]:
        choice = await load_llm(config)
        info = EngineInfo(EngineRole.LLM, choice.model.name, choice.why, choice.fallback)
        on_ready(info)
        return choice.model, info

    async def speech_out() -> tuple[TextToSpeech, EngineInfo]:
        choice = await load_tts(config)
        info = EngineInfo(EngineRole.TTS, choice.engine.name, choice.why, choice.fallback)
        on_ready(info)
        return choice.engine, info

    async def end_of_turn() -> tuple[SmartTurnDetector | None, WordsEndDetector | None, tuple[EngineInfo, ...]]:
        words = start_words_detector(config)  # on its own thread, beside Smart Turn
        try:
            detector = await turn_loader.run(load_turn_detector, config)
            if words is not None:
                # Waited for here, not later: making its llama.cpp context holds the GIL ~0.3 s, which must not
                # stall a running conversation.
                await words.loaded()
        except BaseException:  # this or another engine failed to load: let its llama.cpp context go
            if words is not None:
                await words.close()
            raise
        if detector is None:
            return None, None, ()
        info = EngineInfo(EngineRole.TURN, detector.name + (f" + {words.name}" if words else ""))
        on_ready(info)
        return detector, words, (info,)

    try:
        # A TaskGroup: when one engine fails to load (a missing model), the others stop loading too.
        async with asyncio.TaskGroup() as group:
            vad_task, stt_task = group.create_task(voice_activity()), group.create_task(speech_to_text())
            llm = group.create_task(language())
            tts = group.create_task(speech_out())
            turn = group.create_task(end_of_turn())
    except* UserError as failures:
        raise failures.exceptions[0] from None
    finally:
        for thread in (vad_loader, stt_loader, turn_loader):
            thread.close()
    (vad, vad_info), (stt, stt_info) = vad_task.result(), stt_task.result()
    (llm_model, llm_info), (tts_engine, tts_info), (detector, words, turn_info) = (llm.result(), tts.result(),
                                                                                 turn.result())
    # What is alive now (modules, models, their buffers: ~45 000 objects) lives as long as the session. Out of the
    # collector's sight, a full collection takes ~1 ms instead of 25-40, and it runs on whichever thread allocates:
    # the event loop, or a thread holding the GIL the loop waits for.
    gc.collect()
    gc.freeze()
    return Engines(vad, stt, llm_model, tts_engine, (vad_info, stt_info, llm_info, tts_info, *turn_info), detector,
                   words)
