"""Scripted stand-ins for timing and fault tests (the real engines are proven in their own tests), and
`converse`, which runs a headless conversation (a WAV as the microphone) on whichever engines it is given."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np

from assistant.config import Config
from assistant.core.events import ConversationEvent, Notice
from assistant.core.ports import Engines
from assistant.core.types import AudioChunk
from assistant.engines.vad import load_vad
from assistant.frontends.duplex import DuplexResult, run_duplex


class ScriptedStt:
    def __init__(self, texts: list[str], delay: float = 0.05, fail_on: set[int] = frozenset()) -> None:
        self.texts, self.delay, self.fail_on, self.calls = list(texts), delay, fail_on, 0

    async def partial(self, audio: np.ndarray) -> str:
        return ""

    async def final(self, audio: np.ndarray) -> str:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.calls in self.fail_on:
            raise RuntimeError("scripted STT failure")
        return self.texts.pop(0) if self.texts else ""

    def close(self) -> None:
        pass


class ScriptedLlm:
    """Each call plays the next script: a list of steps, each a delta (str), a delay (float), "HANG" or an error."""

    name = "scripted"

    def __init__(self, scripts: list[list]) -> None:
        self.scripts = list(scripts)
        self.calls = 0
        self.cancelled = 0

    async def stream(self, messages: list[dict[str, str]]) -> AsyncIterator[str]:
        self.calls += 1
        script = self.scripts.pop(0) if self.scripts else ["Okay."]
        try:
            for step in script:
                if isinstance(step, float):
                    await asyncio.sleep(step)
                elif step == "HANG":
                    await asyncio.Event().wait()
                elif isinstance(step, Exception):
                    raise step
                else:
                    yield step
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    async def close(self) -> None:
        pass


class ScriptedTts:
    """A 220 Hz tone, 60 ms per character, at the requested rate; can fail on texts containing a marker."""

    name = "scripted tts"
    sample_rate = 24_000

    def __init__(self, fail_marker: str | None = None, delay: float = 0.02) -> None:
        self.fail_marker, self.delay = fail_marker, delay

    async def synthesize(self, text: str, sample_rate: int | None = None) -> AsyncIterator[AudioChunk]:
        rate = sample_rate or self.sample_rate
        await asyncio.sleep(self.delay)
        if self.fail_marker and self.fail_marker in text:
            raise RuntimeError(f"scripted TTS failure on {text!r}")
        t = np.arange(int(0.06 * len(text) * rate)) / rate
        yield AudioChunk((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, text)

    def close(self) -> None:
        pass


class RecordingTts:
    """Any TTS engine, with every text it is asked to speak recorded (the engine itself is not closed here)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.name, self.sample_rate = engine.name, engine.sample_rate
        self.asked: list[tuple[float, str]] = []  # (time.monotonic(), text), in order

    @property
    def texts(self) -> list[str]:
        return [text for _, text in self.asked]

    def synthesize(self, text: str, sample_rate: int | None = None) -> AsyncIterator[AudioChunk]:
        self.asked.append((time.monotonic(), text))
        return self.engine.synthesize(text, sample_rate)

    def close(self) -> None:
        pass


def fast_config(config: Config, llm_timeout_s: float = 1.0, connect_timeout_s: float = 0.2,
                speculative: bool = False) -> Config:
    """Short timeouts, so that a fault ends its turn within a test's patience; no metrics file.

    No speculative end of turn unless asked: scripted STT/LLM hand out their next answer per call, and an answer
    started early and then dropped would take one (speculation has tests of its own)."""
    llm = dataclasses.replace(config.llm, first_token_timeout_s=llm_timeout_s, token_timeout_s=llm_timeout_s,
                              ollama=dataclasses.replace(config.llm.ollama, connect_timeout_s=connect_timeout_s))
    return dataclasses.replace(config, llm=llm,
                               conversation=dataclasses.replace(config.conversation, metrics_file="",
                                                                tts_timeout_s=1.0, stt_timeout_s=1.0,
                                                                speculative_end_of_turn=speculative))


def converse(config: Config, wav: Path, tmp_path: Path, stt, llm, tts,
             on_event: Callable[[ConversationEvent], None] | None = None,
             control: Callable[..., Awaitable[None]] | None = None) -> tuple[DuplexResult, list[str]]:
    """Run `run_duplex` on `wav` with the real VAD and these engines; returns the result and the notices.

    The LLM is closed at the end (within the conversation's event loop); STT and TTS are left open (they may be
    session-wide fixtures)."""
    notices: list[str] = []
    engines = Engines(load_vad(config), stt, llm, tts, ["scripted"])

    def listen(event: ConversationEvent) -> None:
        if isinstance(event, Notice):
            notices.append(event.message)
        if on_event:
            on_event(event)

    async def run() -> DuplexResult:
        try:
            return await run_duplex(config, wav, tmp_path / "out.wav", engines=engines, on_event=listen,
                                    control=control)
        finally:
            engines.vad.close()
            await llm.close()

    return asyncio.run(run()), notices
