"""The chunk buffer a speaker's output callback pulls from.

The buffer is thread-safe: a sound-device callback pulls on PortAudio's thread while the event loop enqueues
and flushes. Each pull says which chunks started or finished inside the block, at which sample; the speaker
turns that into times (the block's playback time + offset / rate) and reports them on the event loop.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from assistant.core.ports import PlayingChunk
from assistant.core.types import AudioChunk


@dataclass
class Pulled:
    """One block of output and the chunk boundaries inside it (sample offsets within the block)."""

    samples: np.ndarray
    started: list[tuple[PlayingChunk, int]] = field(default_factory=list)
    finished: list[tuple[PlayingChunk, int]] = field(default_factory=list)


class ChunkBuffer:
    def __init__(self) -> None:
        self._queue: deque[PlayingChunk] = deque()
        self._lock = threading.Lock()
        self._queued = 0
        self._paused = False  # while paused, pulls give silence and nothing is consumed

    def enqueue(self, chunk: AudioChunk, sample_rate: int) -> PlayingChunk:
        """Queue a chunk for a speaker running at `sample_rate`; the handle reports its playback."""
        if chunk.sample_rate != sample_rate:
            raise ValueError(f"speaker plays {sample_rate} Hz, chunk is {chunk.sample_rate} Hz")
        playing = PlayingChunk(chunk, self._lock)
        self.add(playing)
        return playing

    def add(self, playing: PlayingChunk) -> None:
        with self._lock:
            self._queue.append(playing)
            self._queued += playing.total

    @property
    def queued_samples(self) -> int:
        return self._queued

    def pull(self, count: int) -> Pulled:
        """The next `count` samples: queued audio, then silence."""
        out = Pulled(np.zeros(count, dtype=np.float32))
        position = 0
        with self._lock:
            while position < count and self._queue and not self._paused:
                playing = self._queue[0]
                if playing.played == 0:
                    out.started.append((playing, position))
                take = min(count - position, playing.total - playing.played)
                out.samples[position:position + take] = playing.chunk.samples[playing.played:playing.played + take]
                playing.played += take
                position += take
                self._queued -= take
                if playing.played == playing.total:
                    self._queue.popleft()
                    out.finished.append((playing, position))
        return out

    def rewind(self, samples: int) -> None:
        """Hand the last `samples` of the chunk being played out again (they were dropped by the device)."""
        with self._lock:
            if self._queue:
                head = self._queue[0]
                back = min(samples, head.played)
                head.played -= back
                self._queued += back

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        with self._lock:
            self._paused = False

    def discard(self) -> list[PlayingChunk]:
        """Drop everything still queued (the first may be partly played) and unpause. Each dropped chunk is marked
        so (its waiters wake); returns them."""
        with self._lock:
            dropped = list(self._queue)
            self._queue.clear()
            self._queued = 0
            self._paused = False
        for playing in dropped:
            playing.mark_dropped()
        return dropped
