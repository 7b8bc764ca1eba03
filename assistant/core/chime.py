"""The chime that marks a timer or alarm going off, before its words: two soft tones, made once per rate."""

from __future__ import annotations

import functools

import numpy as np

from assistant.core.types import AudioChunk

TONES_HZ = (880.0, 1320.0)
TONE_S = 0.15


@functools.cache
def chime(sample_rate: int) -> AudioChunk:
    t = np.arange(int(TONE_S * sample_rate)) / sample_rate
    envelope = np.minimum(1.0, np.minimum(t, TONE_S - t) / 0.01)  # 10 ms fades: no clicks
    tones = [0.3 * envelope * np.sin(2 * np.pi * hz * t) for hz in TONES_HZ]
    return AudioChunk(np.concatenate(tones).astype(np.float32), sample_rate, "")
