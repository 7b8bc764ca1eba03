"""Streaming resamplers that let go of their native (soxr) state when closed, and at the latest at exit.

A device stream is closed on its control thread without waiting (a dead sound server may never answer), and a
second Ctrl+C cuts the session's cleanup short: either way the stream's callback, and the resampler it writes
through, can live on until the interpreter exits, where nanobind reports a live soxr object as leaked.
"""

from __future__ import annotations

import atexit
import weakref

import numpy as np
import soxr

_open: weakref.WeakSet[StreamResampler] = weakref.WeakSet()


class StreamResampler:
    """Mono float32 blocks from `from_rate` to `to_rate`, one after another (the filter carries over)."""

    def __init__(self, from_rate: int, to_rate: int, quality: str = "HQ") -> None:
        self._stream: soxr.ResampleStream | None = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32",
                                                                        quality=quality)
        _open.add(self)

    def resample(self, block: np.ndarray) -> np.ndarray:
        """`block` at the new rate (empty once closed)."""
        stream = self._stream  # once: close() may come from another thread
        return block[:0] if stream is None else stream.resample_chunk(block)

    def close(self) -> None:
        self._stream = None


@atexit.register  # atexit handlers run before the interpreter tears modules down (and nanobind checks for leaks)
def _close_all() -> None:
    for resampler in list(_open):
        resampler.close()
