"""Scripted stand-ins for timing and fault tests (the real engines are proven in their own tests), and
`converse`, which runs a headless conversation (a WAV as the microphone) on whichever engines it is given."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path

import numpy as np

from assistant.config import Config
from assistant.core.events import ConversationEvent, Notice
from assistant.core.ports import Engines, LlmDeadlines
from assistant.core.types import SAMPLE_RATE, AudioChunk
from assistant.engines.vad import load_vad
from assistant.frontends.duplex import DuplexResult, run_duplex


class ScriptedStt:
    """Transcribes by what it is given, never by call count (a speculative answer may ask twice for one turn):
    `text` is the transcript, or a function of the audio's length in seconds. Faults follow the input too: audio
    shorter than `fail_below_s` raises, and with `hang` it never answers."""

    def __init__(self, text: str | Callable[[float], str] = "a question", delay: float = 0.05,
                 fail_below_s: float = 0.0, hang: bool = False) -> None:
        self.text, self.delay, self.fail_below_s, self.hang = text, delay, fail_below_s, hang
        self.heard: list[float] = []  # the length of every audio it was asked about, in order

    async def partial(self, audio: np.ndarray) -> str:
        return ""

    async def final(self, audio: np.ndarray) -> str:
        seconds = len(audio) / SAMPLE_RATE
        self.heard.append(seconds)
        await asyncio.sleep(self.delay)
        if self.hang:
            await asyncio.Event().wait()
        if seconds < self.fail_below_s:
            raise RuntimeError("scripted STT failure")
        return self.text(seconds) if callable(self.text) else self.text

    def close(self) -> None:
        pass


def heard_seconds(seconds: float) -> str:
    """A transcript that says how much audio was answered, so a test can tell which stretch of speech it was."""
    return f"heard {seconds:.2f} seconds"


Script = list  # steps: a delta (str), a delay (float), "HANG", or an exception to raise


class ScriptedLlm:
    """Answers by its input, never by call count: the script for a request is chosen by the conversation it is
    given. `scripts` is a list (by the number of user messages: the first question gets scripts[0]), a dict (by the
    last user message), or a function of the last user message. Each step of a script is a delta (str), a delay
    (float), "HANG", or an exception to raise."""

    name = "scripted"
    calls_tools = False
    deadlines = LlmDeadlines(first_token_s=1.0, between_tokens_s=1.0)  # like fast_config's

    def __init__(self, scripts: list[Script] | dict[str, Script] | Callable[[str], Script]) -> None:
        self.scripts = scripts
        self.calls = 0
        self.cancelled = 0

    def script_for(self, messages: list[dict[str, str]]) -> Script:
        users = [m["content"] for m in messages if m["role"] == "user"]
        if callable(self.scripts):
            return self.scripts(users[-1])
        if isinstance(self.scripts, dict):
            return self.scripts.get(users[-1], ["Okay."])
        return self.scripts[len(users) - 1] if len(users) <= len(self.scripts) else ["Okay."]

    async def stream(self, messages: list[dict[str, str]], tools=()) -> AsyncGenerator[str, None]:
        self.calls += 1
        script = self.script_for(messages)
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

    async def synthesize(self, text: str, sample_rate: int | None = None) -> AsyncGenerator[AudioChunk, None]:
        rate = sample_rate or self.sample_rate
        await asyncio.sleep(self.delay)
        if self.fail_marker and self.fail_marker in text:
            raise RuntimeError(f"scripted TTS failure on {text!r}")
        t = np.arange(int(self.seconds(text) * rate)) / rate
        yield AudioChunk((0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, text)

    @staticmethod
    def seconds(text: str) -> float:
        """How long `text` plays."""
        return 0.06 * len(text)

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

    def synthesize(self, text: str, sample_rate: int | None = None) -> AsyncGenerator[AudioChunk, None]:
        self.asked.append((time.monotonic(), text))
        return self.engine.synthesize(text, sample_rate)

    def close(self) -> None:
        pass


def fast_config(config: Config, llm_timeout_s: float = 1.0, connect_timeout_s: float = 0.2) -> Config:
    """Short timeouts, so that a fault ends its turn within a test's patience; no metrics file, no echo canceller.
    Speculative end of turn stays on, as by default: the scripted engines answer by their input, so a dropped early
    answer changes nothing."""
    llm = dataclasses.replace(config.llm, first_token_timeout_s=llm_timeout_s, token_timeout_s=llm_timeout_s,
                              ollama=dataclasses.replace(config.llm.ollama, connect_timeout_s=connect_timeout_s))
    # No echo canceller: the scripted voice has no echo path (as with headphones). A canceller still learning the
    # room holds back a cut-in's first ~100 ms, which the timings here are not about (tests/test_echo.py is).
    audio = dataclasses.replace(config.audio, echo_cancellation=False)
    return dataclasses.replace(config, llm=llm, audio=audio,
                               conversation=dataclasses.replace(config.conversation, metrics_file="",
                                                                tts_timeout_s=1.0, stt_timeout_s=1.0))


def converse(config: Config, wav: Path, tmp_path: Path, stt, llm, tts,
             on_event: Callable[[ConversationEvent], None] | None = None,
             control: Callable[..., Awaitable[None]] | None = None, toolbox=None,
             turn=None, words=None) -> tuple[DuplexResult, list[str]]:
    """Run `run_duplex` on `wav` with the real VAD and these engines (`turn`, `words`: the end-of-turn model and
    the words cue, if any); returns the result and the notices.

    The LLM is closed at the end (within the conversation's event loop); STT and TTS are left open (they may be
    session-wide fixtures)."""
    notices: list[str] = []
    engines = Engines(load_vad(config), stt, llm, tts, turn=turn, words=words)

    def listen(event: ConversationEvent) -> None:
        if isinstance(event, Notice):
            notices.append(event.message)
        if on_event:
            on_event(event)

    async def run() -> DuplexResult:
        try:
            return await run_duplex(config, wav, tmp_path / "out.wav", engines=engines, on_event=listen,
                                    control=control, toolbox=toolbox)
        finally:
            engines.vad.close()
            await llm.close()

    return asyncio.run(run()), notices
