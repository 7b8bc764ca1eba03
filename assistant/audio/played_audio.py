"""What the speaker plays, at 16 kHz, placed by the moment it sounds: the echo canceller's reference.

A speaker writes each block here as it hands it to the output device (so before it sounds, never after), silence
included, so the timeline stays continuous between replies. Each sample sits at round(t * 16000) for the monotonic
time t at which it plays, the same clock the microphone stamps its frames with; reading "what played from time t"
is then exact for a WAV speaker and as good as the device's reported output time for a sound card.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from assistant.audio.resampling import StreamResampler
from assistant.core.types import SAMPLE_RATE

KEEP_S = 4.0  # history kept: the longest echo path anyone reads back, with room to spare
# A block whose time is within this of where the previous one ended continues it (device clocks jitter by a few
# ms); farther off (a stream restarted after a cut, an underflow, clocks drifted apart) starts a new stretch there.
JITTER_S = 0.01


class PlayedAudio:
    """Thread-safe: `write` on the speaker's audio thread, `read` on the event loop."""

    def __init__(self, keep_s: float = KEEP_S) -> None:
        self._ring = np.zeros(int(keep_s * SAMPLE_RATE), dtype=np.float32)
        self._end: int | None = None  # timeline index one past the last sample written
        self._lock = threading.Lock()
        self._rate: int | None = None
        self._resampler: StreamResampler | None = None
        # A speaker that plays on demand (the WAV speaker) sets this to bring what it has played up to now.
        self.catch_up: Callable[[], None] = lambda: None

    def write(self, samples: np.ndarray, rate: int, play_at: float) -> None:
        """`samples` at `rate` start sounding at monotonic time `play_at`."""
        if rate != self._rate:
            # "QQ" (cubic) resamples each block with a one-sample delay; the better filters hold back ~30 ms and
            # release it in bursts, which would make the reference late, the one thing an echo canceller cannot use
            self._rate = rate
            self._resampler = StreamResampler(rate, SAMPLE_RATE, quality="QQ")
        assert self._resampler is not None
        audio = samples if rate == SAMPLE_RATE else self._resampler.resample(samples)
        at = round(play_at * SAMPLE_RATE)
        with self._lock:
            if self._end is None or abs(at - self._end) > JITTER_S * SAMPLE_RATE:
                self._restart_at(at)
            assert self._end is not None
            self._put(self._end, audio)
            self._end += len(audio)

    def close(self) -> None:
        """Let go of the resampler now; a device stream's callback may go on writing (ignored) until it closes."""
        if self._resampler is not None:
            self._resampler.close()

    def _restart_at(self, at: int) -> None:
        if self._end is not None and at > self._end:  # a gap: what played there was silence
            gap = min(at - self._end, len(self._ring))
            self._put(at - gap, np.zeros(gap, dtype=np.float32))
        self._end = at

    def _put(self, start: int, audio: np.ndarray) -> None:
        if len(audio) > len(self._ring):  # only the newest part fits
            start, audio = start + len(audio) - len(self._ring), audio[-len(self._ring):]
        index = np.arange(start, start + len(audio)) % len(self._ring)
        self._ring[index] = audio

    def read(self, start_time: float, count: int, back: int = 0) -> np.ndarray:
        """The `count` samples that played from monotonic time `start_time` on (and the `back` samples before it);
        silence where nothing was written."""
        start = round(start_time * SAMPLE_RATE) - back
        count += back
        out = np.zeros(count, dtype=np.float32)
        with self._lock:
            if self._end is None or start >= self._end or start + count <= self._end - len(self._ring):
                return out  # nothing written there (the speaker asleep: the usual case, always listening)
            index = np.arange(start, start + count)
            held = (index >= self._end - len(self._ring)) & (index < self._end)
            out[held] = self._ring[index[held] % len(self._ring)]
        return out
