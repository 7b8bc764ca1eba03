"""The speaker on an output device: a stream that pulls from the chunk buffer, asleep after a quiet while."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from assistant.audio.buffer import ChunkBuffer
from assistant.audio.control_thread import ControlThread
from assistant.audio.devices import PORTAUDIO_TIMEOUT_S, LossNotices, sounddevice
from assistant.audio.played_audio import PlayedAudio
from assistant.core.ports import PlayingChunk
from assistant.core.types import AudioChunk
from assistant.errors import UserError

SPEAKER_BLOCK_S = 0.01  # 10 ms blocks
# 40 ms of device buffering: with less, PulseAudio's ALSA plugin underflows for the first ~0.5 s of a stream.
# It costs nothing on a cut: pause and discard abort the stream, which silences it at once (~1 ms to restart).
SPEAKER_LATENCY_S = 0.04
# With nothing to play for this long, the stream stops (it plays silence out first): a running output stream is
# ~100 callbacks a second and a sound-server client busy, a large share of an always-listening session's idle CPU.
# The next chunk starts it again (a few ms; the user is still talking when the first reply is queued).
SPEAKER_SLEEP_AFTER_S = 2.0

log = logging.getLogger(__name__)


class DeviceSpeaker:
    """A running output stream that pulls from the chunk buffer; silence when there is nothing to say.

    The stream is not stopped between the chunks of a reply or right after one (a stop drops the last ~100 ms of
    buffered audio on some systems), so the end of an utterance is never clipped; only after
    `SPEAKER_SLEEP_AFTER_S` of silence does it sleep. Chunk start/end times are PortAudio's DAC times, on the
    monotonic clock.
    """

    def __init__(self, sample_rate: int, device: int | None = None, notify: Callable[[str], None] | None = None,
                 played: PlayedAudio | None = None) -> None:
        self.sample_rate = sample_rate
        self.played = played  # every block handed to the device is written there (the echo canceller's reference)
        self.device = device
        self.notify: Callable[[str], None] = notify or log.warning
        self.underflows = 0  # blocks the device had to fill in (silence) because ours came late; never replayed
        self._underflow_notices = LossNotices("speaker: output underflow (audio came late), blocks",
                                              lambda message: self.notify(message))
        self._buffer = ChunkBuffer()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None
        self._control = ControlThread("speaker-control")
        self.dac_times_seen = False  # whether the host API reports DAC times (else: callback time + latency)
        self.asleep = False  # the stream is stopped: nothing to play for a while (the event loop's view)
        self._silent_blocks = 0  # callbacks in a row with nothing queued (the audio thread's count)

    async def start(self) -> None:
        """Open and start the stream (on the control thread); it runs, playing silence, until `close()`."""
        self._loop = asyncio.get_running_loop()
        stream = await self._control.run(self._open, PORTAUDIO_TIMEOUT_S, "opening the speaker")
        if stream is None:
            raise UserError(f"the speaker did not open within {PORTAUDIO_TIMEOUT_S:g} s "
                            "(hint: is the sound server hanging? `voice-assistant devices`)")
        self._stream = stream
        self.sample_rate = int(stream.samplerate)

    def _open(self) -> Any:
        sd = sounddevice()
        try:
            stream = sd.OutputStream(samplerate=self.sample_rate, channels=1, dtype="float32", device=self.device,
                                     blocksize=int(SPEAKER_BLOCK_S * self.sample_rate), latency=SPEAKER_LATENCY_S,
                                     callback=self._callback)
        except sd.PortAudioError as error:
            raise UserError(f"cannot open the speaker at {self.sample_rate} Hz: {error} "
                            "(hint: `voice-assistant devices`, or set [audio] output_sample_rate)") from None
        stream.start()
        return stream

    def _callback(self, outdata: np.ndarray, frames: int, when: Any, status: Any) -> None:
        assert self._loop is not None
        if status.output_underflow:
            self.underflows += 1
            self._loop.call_soon_threadsafe(self._underflow_notices.check, self.underflows)
        pulled = self._buffer.pull(frames)
        outdata[:, 0] = pulled.samples
        before, limit = self._silent_blocks, SPEAKER_SLEEP_AFTER_S * self.sample_rate
        self._silent_blocks = before + 1 if self._buffer.queued_samples == 0 and not pulled.finished else 0
        if before * frames < limit <= self._silent_blocks * frames:  # once, as the silence reaches the limit
            self._loop.call_soon_threadsafe(self._sleep)
        if not (pulled.started or pulled.finished or self.played):
            return
        ahead = when.outputBufferDacTime - when.currentTime
        # A just-started stream's first block plays at once (its DAC time is the current time, measured on
        # PulseAudio: the next blocks follow 10, 20… ms on); a host API without DAC times reports 0
        if when.outputBufferDacTime > 0 and 0 <= ahead < 2:
            self.dac_times_seen = True
        else:  # the stream's own latency (the requested one, in the first callbacks before start() returns)
            ahead = self._stream.latency if self._stream is not None else SPEAKER_LATENCY_S
        block_at = time.monotonic() + ahead
        if self.played:
            self.played.write(pulled.samples, self.sample_rate, block_at)
        for playing, offset in pulled.started:
            self._loop.call_soon_threadsafe(playing.mark_started, block_at + offset / self.sample_rate)
        for playing, offset in pulled.finished:
            self._loop.call_soon_threadsafe(playing.mark_finished, block_at + offset / self.sample_rate)

    @property
    def latency(self) -> float:
        return float(self._stream.latency)

    def enqueue(self, chunk: AudioChunk) -> PlayingChunk:
        playing = self._buffer.enqueue(chunk, self.sample_rate)
        if self.asleep and self._stream is not None:
            self.asleep = False
            self._control.submit(self._stream.start)  # after the stop, on the same thread
        return playing

    def _sleep(self) -> None:
        """On the loop: stop the stream if there is still nothing to play (a chunk may have come meanwhile)."""
        if self.asleep or self._stream is None or self._buffer.queued_samples:
            return
        self.asleep = True
        self._control.submit(self._stream.stop)

    def _cut(self, then: Callable[[], None] = lambda: None) -> float:
        """Silence now. The buffer already gives silence from the next block; aborting the stream (on the control
        thread, a millisecond later) also drops what PortAudio has buffered (stop() would play it out first)."""
        silent_at = time.monotonic()
        stream = self._stream

        def abort_and_restart() -> None:
            stream.abort()
            then()
            stream.start()

        if stream is not None:
            self._control.submit(then if self.asleep else abort_and_restart)  # asleep: nothing is sounding
        return silent_at

    def pause(self) -> float:
        self._buffer.pause()
        # The aborted device buffer was never heard: play it again on resume instead of skipping it.
        return self._cut(then=lambda: self._buffer.rewind(int((self.latency + SPEAKER_BLOCK_S) * self.sample_rate)))

    def resume(self) -> None:
        self._control.submit(self._buffer.resume)  # after any abort still in flight, so its rewind comes first

    def discard(self) -> float:
        self._buffer.discard()
        return self._cut()

    @property
    def queued_seconds(self) -> float:
        return self._buffer.queued_samples / self.sample_rate

    def close(self) -> None:
        if self._stream is not None:
            self._control.submit(self._stream.close)  # not waited for: a dead server may never answer
        self._control.close()
