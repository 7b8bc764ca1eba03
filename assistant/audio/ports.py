"""What the conversation needs from a microphone and a speaker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from assistant.audio.playback import PlayingChunk
from assistant.events import AudioChunk, MicFrame


class Microphone(Protocol):
    """16 kHz mono float32 frames of 512 samples, stamped with their place on the input timeline."""

    def frames(self) -> AsyncIterator[MicFrame]: ...

    def time_of(self, sample: int) -> float:
        """The monotonic time at which input sample `sample` was captured."""
        ...

    def close(self) -> None: ...


class Speaker(Protocol):
    sample_rate: int

    def enqueue(self, chunk: AudioChunk) -> PlayingChunk:
        """Queue a chunk (already at `sample_rate`); the handle reports when it started and finished playing."""
        ...

    def pause(self) -> float:
        """Go silent from the next block but keep everything queued. Returns when it went silent."""
        ...

    def resume(self) -> None:
        """Carry on from where `pause` stopped."""
        ...

    def flush(self) -> float:
        """Drop everything queued or buffered; silence follows from the next block. Returns when it went silent."""
        ...

    @property
    def queued_seconds(self) -> float: ...

    def close(self) -> None: ...
