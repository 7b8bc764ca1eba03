"""`voice-assistant demo`: the whole product on a machine with no microphone.

The assistant's own TTS speaks a built-in question into a WAV file, the duplex mode plays it into the pipeline
as the microphone, and the question and the spoken reply are mixed into one WAV file.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.audio.files import read_mono, read_speech, resample, write_wav
from assistant.config import Config
from assistant.core.types import SAMPLE_RATE
from assistant.engines.loading import load_engines
from assistant.frontends.duplex import DuplexResult, run_duplex

QUESTION = "What is the capital of France?"
LEAD_S, TRAIL_S = 0.5, 1.0


async def run_demo(config: Config, output: str | Path, on_progress: Callable[[str], None] | None = None,
                   metrics_path: str | Path | None = None) -> DuplexResult:
    progress = on_progress or (lambda message: None)
    progress("loading engines…")
    engines = await load_engines(config, lambda info: progress(str(info)))
    try:
        spoken = [chunk.samples async for chunk in engines.tts.synthesize(QUESTION, SAMPLE_RATE)]
        question = np.concatenate([np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32), *spoken,
                                   np.zeros(int(TRAIL_S * SAMPLE_RATE), np.float32)])
        with tempfile.TemporaryDirectory() as folder:
            asked = Path(folder) / "question.wav"
            reply = Path(folder) / "reply.wav"
            await asyncio.to_thread(write_wav, asked, [question], SAMPLE_RATE)
            progress(f'asking: "{QUESTION}"')
            result = await run_duplex(config, asked, reply, metrics_path, engines=engines)
            await asyncio.to_thread(_mix, asked, reply, output, config.audio.output_sample_rate)
    finally:
        await engines.close()
    return result


def _mix(question: Path, reply: Path, output: str | Path, rate: int) -> None:
    """Both sides of the conversation in one file, on the shared timeline."""
    asked = resample(read_speech(question), SAMPLE_RATE, rate)
    answered, _ = read_mono(reply)  # the speaker file is already at `rate`
    mixed = np.zeros(max(len(asked), len(answered)), dtype=np.float32)
    mixed[: len(asked)] += asked
    mixed[: len(answered)] += answered
    write_wav(output, [np.clip(mixed, -1, 1)], rate)
