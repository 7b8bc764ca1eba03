"""A WAV file as the microphone (paced in real time) and a WAV file as the speaker, on one timeline.

The speaker behaves like a sound card whose clock is the microphone's: every few milliseconds it "plays" the
samples due since its last block, so OUT.wav is sample-aligned with IN.wav (OUT sample k sounds at input time
k / rate) and a discard is silent from the next block on.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np

from assistant.audio.buffer import ChunkBuffer
from assistant.audio.echo_path import EchoPath
from assistant.audio.files import read_speech, write_wav
from assistant.audio.played_audio import PlayedAudio
from assistant.core.ports import PlayingChunk
from assistant.core.quiet_gate import DOZE_S, frame_power
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, AudioChunk, MicFrame

# Play times are exact whatever the block (each is computed from its sample position, and enqueue, pause and discard
# catch up first); the block only sets how soon a chunk's end is noticed, and a short one wakes the loop for nothing.
SPEAKER_BLOCK_S = 0.02


class WavMicrophone:
    """Frames of a file in real time, as a microphone would deliver them; then silence until closed. With an
    `echo` path, what the speaker plays reaches it through that path, as in a room."""

    def __init__(self, path: str | Path, echo: EchoPath | None = None) -> None:
        self.audio = read_speech(path)  # blocking: construct before the session starts
        self.echo = echo
        self.started_at: float | None = None
        self.input_done = asyncio.Event()  # the file has been played in full
        self.overflows = 0  # a file never loses input
        self._closed = False
        self._wake_above: float | None = None

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    def time_of(self, sample: int) -> float:
        assert self.started_at is not None, "the microphone has not started"
        return self.started_at + sample / SAMPLE_RATE

    def doze(self, wake_above: float | None) -> None:
        self._wake_above = wake_above

    async def frames(self) -> AsyncIterator[MicFrame]:
        self.started_at = time.monotonic()
        index = 0
        while not self._closed:
            batch = self._batch_from(index)
            # a frame is delivered once its last sample has been "captured"
            await asyncio.sleep(max(0.0, self.time_of((index + batch) * FRAME_SAMPLES) - time.monotonic()))
            for _ in range(batch):
                start = index * FRAME_SAMPLES
                samples = self._file_frame(index)
                if self.echo is not None:
                    samples = await self.echo.mixed_into(samples, self.time_of(start))
                yield MicFrame(samples, start)
                index += 1

    def _file_frame(self, index: int) -> np.ndarray:
        """The file's frame `index`, silence past its end."""
        samples = self.audio[index * FRAME_SAMPLES:(index + 1) * FRAME_SAMPLES]
        if len(samples) < FRAME_SAMPLES:
            self.input_done.set()
            samples = np.concatenate([samples, np.zeros(FRAME_SAMPLES - len(samples), dtype=np.float32)])
        return samples

    def _batch_from(self, index: int) -> int:
        """How many frames from `index` on come together: one, or while dozing the quiet ones of the next
        `DOZE_S` (and the loud one that ends them), as a dozing sound card's would."""
        wake_above, batch = self._wake_above, 1
        while wake_above is not None and (batch - 1) * FRAME_SAMPLES < DOZE_S * SAMPLE_RATE:
            samples = self.audio[(index + batch - 1) * FRAME_SAMPLES:][:FRAME_SAMPLES]  # none past the end: silence
            if len(samples) and frame_power(samples) > wake_above:
                break
            batch += 1
        return batch

    def close(self) -> None:
        self._closed = True


class WavSpeaker:
    """Plays into memory on the microphone's clock; `save()` writes the file."""

    def __init__(self, path: str | Path | None, sample_rate: int, microphone: WavMicrophone,
                 played: PlayedAudio | None = None) -> None:
        self.path = path
        self.played = played  # every block it plays is written there, as a sound card's speaker does
        if played is not None:
            played.catch_up = self._play_due  # a reader of what has played first brings it up to now
        self.sample_rate = sample_rate
        self._mic = microphone
        self._buffer = ChunkBuffer()
        self._blocks: list[np.ndarray] = []
        self._written = 0  # output samples produced so far
        self._task: asyncio.Task | None = None
        self._queued = asyncio.Event()  # set when a chunk is queued: the clock wakes up for it
        self.underflows = 0  # nor is it ever late

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._clock(), name="wav-speaker")

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate(self._blocks) if self._blocks else np.zeros(0, dtype=np.float32)

    def _time_of(self, output_sample: int) -> float:
        return self._mic.time_of(0) + output_sample / self.sample_rate

    def _play_due(self) -> None:
        due = math.ceil((time.monotonic() - self._mic.time_of(0)) * self.sample_rate) - self._written
        if due <= 0:
            return
        pulled = self._buffer.pull(due)
        if self.played is not None:
            self.played.write(pulled.samples, self.sample_rate, self._time_of(self._written))
        for playing, offset in pulled.started:
            playing.mark_started(self._time_of(self._written + offset))
        for playing, offset in pulled.finished:
            playing.mark_finished(self._time_of(self._written + offset))
        self._blocks.append(pulled.samples)
        self._written += due

    async def _clock(self) -> None:
        while self._mic.started_at is None:
            await asyncio.sleep(SPEAKER_BLOCK_S)
        while True:
            self._play_due()
            if self._buffer.queued_samples:
                await asyncio.sleep(SPEAKER_BLOCK_S)
            else:  # nothing to mark as started or finished: silence is filled in on demand (as a device sleeps)
                self._queued.clear()
                await self._queued.wait()

    def enqueue(self, chunk: AudioChunk) -> PlayingChunk:
        self._play_due()  # silence until now: a chunk can only start playing after it arrives
        playing = self._buffer.enqueue(chunk, self.sample_rate)
        self._queued.set()
        return playing

    def pause(self) -> float:
        self._play_due()  # everything due until now has sounded; nothing after it will
        self._buffer.pause()
        return time.monotonic()

    def resume(self) -> None:
        self._play_due()  # the paused stretch is silence
        self._buffer.resume()

    def discard(self) -> float:
        self._play_due()
        self._buffer.discard()
        return time.monotonic()

    @property
    def queued_seconds(self) -> float:
        return self._buffer.queued_samples / self.sample_rate

    def close(self) -> None:
        """Stop the clock; `save()` (blocking: run it off the loop) then writes the file."""
        if self._task:
            self._task.cancel()
        if self._mic.started_at is not None:
            self._play_due()

    def save(self) -> None:
        if self.path is not None:
            write_wav(self.path, [self.audio], self.sample_rate)
