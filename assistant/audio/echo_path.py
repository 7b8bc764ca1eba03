"""A laptop's acoustics in a file: what the speaker plays, through a room's impulse response, into the microphone.

For headless runs and the bench (`converse --echo-ir IR.wav`): the echo a real laptop would pick up, mixed into
the WAV microphone in real time, so the whole pipeline (echo canceller, VAD, barge-in) meets it as it would in a room.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.files import read_speech
from assistant.audio.played_audio import PlayedAudio
from assistant.core.types import SAMPLE_RATE
from assistant.errors import AudioFileError


@dataclass(frozen=True)
class EchoSimulation:
    """The echo path asked for on the command line."""

    impulse_response: Path
    gain_db: float = 0.0  # the direct path's level, relative to what the speaker plays
    delay_ms: float = 0.0  # added to the response's own onset (a converter's or a Bluetooth link's latency)


class EchoPath:
    def __init__(self, impulse_response: np.ndarray, played: PlayedAudio, gain_db: float = 0.0,
                 delay_ms: float = 0.0) -> None:
        peak = float(np.max(np.abs(impulse_response))) if impulse_response.size else 0.0
        if peak == 0.0:
            raise ValueError("the impulse response is silent")
        # normalised to 1.0 at its direct path (its peak), then scaled: gain_db says how loud the echo is
        self.response = (impulse_response / peak * 10 ** (gain_db / 20)).astype(np.float32)
        self.delay = round(delay_ms * SAMPLE_RATE / 1000)
        self.played = played

    @classmethod
    def from_file(cls, simulation: EchoSimulation, played: PlayedAudio) -> EchoPath:
        """Blocking (reads the file)."""
        response = read_speech(simulation.impulse_response)
        try:
            return cls(response, played, simulation.gain_db, simulation.delay_ms)
        except ValueError:
            raise AudioFileError(f"{simulation.impulse_response}: the impulse response is all zeros "
                                 "(hint: it needs a direct path, a non-zero peak)") from None

    async def mixed_into(self, samples: np.ndarray, start_time: float) -> np.ndarray:
        """`samples`, captured from `start_time` on, with the echo that reached the microphone meanwhile."""
        self.played.catch_up()
        reach = len(self.response) - 1 + self.delay  # how far back a sample can still be heard
        source = self.played.read(start_time, len(samples), back=reach)
        return await asyncio.to_thread(self._mix, samples, source)  # a long response is ~ms of CPU per frame

    def _mix(self, samples: np.ndarray, source: np.ndarray) -> np.ndarray:
        echo = np.convolve(source, self.response, mode="valid")[:len(samples)]
        return np.clip(samples + echo, -1.0, 1.0).astype(np.float32)
