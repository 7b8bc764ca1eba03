"""Scripted stand-ins for timing and fault tests (the real engines are proven in their own tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from assistant.events import AudioChunk


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
