"""Audio on a timeline: placing utterances into an input file, and reading sound on/off times back.

Used to build test and benchmark inputs whose true speech onsets/offsets are known (ground truth from the clean
audio, not from the pipeline's own VAD), and to measure latency and barge-in from output files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from assistant.core.types import SAMPLE_RATE

WINDOW_S = 0.005
SILENT_WINDOW_S = 1.0  # after a cut-in's onset, the reply must fall silent within this window (else 1000 ms)


def place(parts: list[tuple[float, np.ndarray]], total_s: float, path: Path) -> list[tuple[float, float]]:
    """Write 16 kHz audio with each part starting at its time; returns each part's true (onset, offset) in s."""
    audio = np.zeros(int(total_s * SAMPLE_RATE), dtype=np.float32)
    truth = []
    for start_s, samples in parts:
        begin = int(start_s * SAMPLE_RATE)
        audio[begin:begin + len(samples)] += samples[: len(audio) - begin]
        span = active_span(samples, SAMPLE_RATE)
        assert span is not None, "a placed part must carry sound"
        onset, offset = span
        truth.append((start_s + onset, start_s + offset))
    soundfile.write(str(path), audio, SAMPLE_RATE)
    return truth


def envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    """RMS per 5 ms window."""
    window = max(1, int(WINDOW_S * rate))
    usable = len(samples) - len(samples) % window
    return np.sqrt(np.mean(samples[:usable].reshape(-1, window) ** 2, axis=1))


def active_span(samples: np.ndarray, rate: int, threshold: float = 0.01) -> tuple[float, float] | None:
    """First and last moment (s) of sound, by 5 ms RMS windows; None for silence."""
    loud = np.nonzero(envelope(samples, rate) > threshold)[0]
    if not loud.size:
        return None
    return loud[0] * WINDOW_S, (loud[-1] + 1) * WINDOW_S


def sound_times(path: Path, threshold: float = 0.01) -> np.ndarray:
    """Start times (s) of the 5 ms windows of a file that carry sound."""
    samples, rate = soundfile.read(str(path), dtype="float32")
    return np.nonzero(envelope(samples, rate) > threshold)[0] * WINDOW_S


def first_sample_time(path: Path, after_s: float = 0.0, epsilon: float = 1e-4) -> float | None:
    """Time (s) of the first sample after `after_s` that is not digital silence."""
    samples, rate = soundfile.read(str(path), dtype="float32")
    begin = int(after_s * rate)
    found = np.nonzero(np.abs(samples[begin:]) > epsilon)[0]
    return (begin + found[0]) / rate if found.size else None


def silent_after(output: Path, onset_s: float) -> float:
    """Seconds from `onset_s` to the last loud sample of the output within the window after it."""
    played, rate = soundfile.read(str(output), dtype="float32")
    window = played[int(onset_s * rate):int((onset_s + SILENT_WINDOW_S) * rate)]
    span = active_span(window, rate)
    return 0.0 if span is None else span[1]
