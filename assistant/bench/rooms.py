"""Synthesised rooms: impulse responses from a laptop's speaker to its microphone, for the echo tests and the bench.

Each is a direct path a few centimetres long, a handful of early reflections (desk, screen, walls), a decaying
diffuse tail (the room's reverberation, RT60), all through the coloration of a small laptop speaker (no bass, a
resonance). Deterministic: a room is the same every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from assistant.core.types import SAMPLE_RATE


@dataclass(frozen=True)
class Room:
    name: str
    onset_ms: float  # converter latency and the speaker-to-mic distance
    reflections: tuple[tuple[float, float], ...]  # (delay after the direct path in ms, gain)
    rt60_s: float  # reverberation: the tail falls by 60 dB in this long
    reverb_db: float  # the tail's energy relative to the direct path's (a laptop's mic is close: well below 0)
    seed: int


ROOMS = (
    Room("desk", onset_ms=1.0, reflections=((1.2, 0.55), (3.5, -0.35), (7.0, 0.2)), rt60_s=0.25, reverb_db=-14,
         seed=1),
    Room("living-room", onset_ms=2.0, reflections=((2.0, 0.45), (6.5, -0.4), (11.0, 0.3), (17.0, -0.2)),
         rt60_s=0.45, reverb_db=-9, seed=2),
    Room("kitchen", onset_ms=3.0, reflections=((1.5, 0.6), (4.0, 0.5), (9.0, -0.45), (14.0, 0.35), (23.0, 0.3)),
         rt60_s=0.7, reverb_db=-5, seed=3),
)


def room(name: str) -> Room:
    return next(candidate for candidate in ROOMS if candidate.name == name)


def impulse_response(spec: Room) -> np.ndarray:
    """The room's response at 16 kHz, with its peak (the direct path) at 1.0."""
    rng = np.random.default_rng(spec.seed)
    length = int((spec.onset_ms / 1000 + spec.rt60_s) * SAMPLE_RATE)
    response = np.zeros(length)
    onset = int(spec.onset_ms * SAMPLE_RATE / 1000)
    response[onset] = 1.0
    for delay_ms, gain in spec.reflections:
        response[onset + int(delay_ms * SAMPLE_RATE / 1000)] += gain
    tail_start = onset + int(0.005 * SAMPLE_RATE)
    t = np.arange(length - tail_start) / SAMPLE_RATE
    tail = rng.standard_normal(len(t)) * 10 ** (-3 * t / spec.rt60_s)  # -60 dB at rt60
    response[tail_start:] += tail * np.sqrt(10 ** (spec.reverb_db / 10) / np.sum(tail**2))
    colored = np.convolve(response, _laptop_speaker())[:length]
    return (colored / np.max(np.abs(colored))).astype(np.float32)


def _laptop_speaker() -> np.ndarray:
    """A small speaker's coloration as a short filter: nothing below ~300 Hz, a resonance near 3 kHz, a roll-off
    above ~7 kHz (a band-pass from windowed sincs, plus a damped resonance)."""
    taps = np.arange(-64, 65)
    window = np.hamming(len(taps))

    def low_pass(cutoff_hz: float) -> np.ndarray:
        return 2 * cutoff_hz / SAMPLE_RATE * np.sinc(2 * cutoff_hz / SAMPLE_RATE * taps) * window

    band = low_pass(7000) - low_pass(300)
    t = np.arange(64) / SAMPLE_RATE
    resonance = np.exp(-t * 900) * np.sin(2 * np.pi * 3000 * t) * 0.15
    return np.convolve(band, np.concatenate([[1.0], resonance]))


def write_impulse_response(spec: Room, path: Path) -> Path:
    soundfile.write(str(path), impulse_response(spec), SAMPLE_RATE, subtype="FLOAT")
    return path
