"""The naive pipeline the product exists to avoid, built from the same engines, as the benchmark's baseline.

Wait for the end of the turn, transcribe, take the whole LLM completion, synthesize the whole reply, then play:
each stage waits for the one before it to finish. Playback is taken to start the moment synthesis ends (no
device latency), which flatters the baseline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.wav import WavMicrophone
from assistant.config import Config
from assistant.core.conversation import END_PAD_S
from assistant.core.ports import Engines
from assistant.core.types import SAMPLE_RATE, SpeechEnded

PAUSE_S = 0.5  # a VAD offset this close to the true end of speech ends the question's turn


@dataclass(frozen=True)
class SequentialTurn:
    transcript: str
    reply: str
    first_audio_s: float  # on the input timeline


async def run_sequential(config: Config, engines: Engines, input_path: Path, speech_end_s: float) -> SequentialTurn:
    """One spoken question through the naive pipeline, the input played in real time.

    A question with long pauses ends several turns; as in the duplex runs, the one measured is the turn that ends
    with the question (`speech_end_s`, ground truth), and the earlier ones are not answered.
    """
    microphone = WavMicrophone(input_path)
    engines.vad.reset()
    heard: list[np.ndarray] = []
    offset = None
    async for frame in microphone.frames():
        heard.append(frame.samples)
        result = await engines.vad.process(frame.samples, frame.start)
        if isinstance(result.event, SpeechEnded) and result.event.sample >= (speech_end_s - PAUSE_S) * SAMPLE_RATE:
            offset = result.event.sample
            break
        if microphone.input_done.is_set():
            break
    microphone.close()
    if offset is None:
        raise RuntimeError(f"{input_path}: the VAD heard no end of speech")
    audio = np.concatenate(heard)[: offset + int(END_PAD_S * SAMPLE_RATE)]
    transcript = await engines.stt.final(audio)
    deltas = engines.llm.stream([{"role": "user", "content": transcript}])  # no tools given: text only
    reply = "".join([delta async for delta in deltas if isinstance(delta, str)])
    _ = [chunk async for chunk in engines.tts.synthesize(reply, config.audio.output_sample_rate)]
    return SequentialTurn(transcript, reply, time.monotonic() - microphone.time_of(0))
