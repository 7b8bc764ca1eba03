"""The microphone on a capture device: 16 kHz frames in real time, surviving the device going away."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.audio.control_thread import ControlThread
from assistant.audio.devices import PORTAUDIO_TIMEOUT_S, LossNotices, sounddevice
from assistant.audio.pulse_route import Source
from assistant.audio.resampling import StreamResampler
from assistant.core.quiet_gate import DOZE_S, frame_power
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, MicFrame
from assistant.errors import UserError

MIC_POLL_S = 0.4  # how often the microphone loop wakes up with no audio, to check on the stream (> a dozing batch)
MIC_STALL_S = 1.0  # no audio for this long: the stream died, or stalled (a suspended source, a PipeWire node gone)
MIC_RETRY_S = 1.0  # a lost microphone is reopened this often
MIC_GAP_S = 0.25  # a capture gap longer than this (lost blocks) is filled with silence, so sample times stay true
ROUTE_CHECK_S = 1.0  # how soon the route watch subscribes again after the sound server went away
MIC_QUEUE_BLOCKS = 125  # 4 s of unread blocks, then drop-oldest: a stuck reader never grows the queue without end

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Opened:
    """A microphone stream just opened and started, for the event loop to take into use."""

    stream: Any
    resampler: StreamResampler | None
    device: int | None


class DeviceMicrophone:
    """16 kHz mono frames from a capture device; opened at 16 kHz if the device allows, else resampled.

    It survives the device going away: a stream that dies or stops delivering is reopened (the configured device
    first, then the system default), and a stream PulseAudio moved to a speaker's monitor is muted. Meanwhile it
    yields silence in real time, so the conversation and its timeline go on. Each change is a one-line notice.
    """

    def __init__(self, device: int | None = None, notify: Callable[[str], None] | None = None) -> None:
        self.device = device
        self.notify: Callable[[str], None] = notify or log.warning
        self.overflows = 0  # blocks PortAudio reported as lost before we read them
        self.dropped = 0  # blocks dropped because nothing read them in time (the queue is bounded)
        self.blocks = 0
        self.reopens = 0  # times the stream was lost and opened again
        self.opened_on: int | None = device  # the device the current stream is on (None: the system default)
        self.muted_by: str | None = None  # the monitor source PulseAudio moved the stream to
        self.started_at: float | None = None  # monotonic capture time of input sample 0
        self._wake_above: float | None = None  # dozing: blocks at most this loud may wait (see `doze`)
        self._queue: asyncio.Queue[tuple[int, np.ndarray, float]] = asyncio.Queue(MIC_QUEUE_BLOCKS)
        self._stream: Any = None
        self._generation = 0  # bumped on each reopen: blocks of a dropped stream are ignored
        self._resampler: StreamResampler | None = None
        self._lost_at: float | None = None
        self._tasks: set[asyncio.Task] = set()
        self._control = ControlThread("mic-control")
        self._overflow_notices = LossNotices("microphone: audio lost to input overflow, blocks",
                                             lambda message: self.notify(message))
        self._drop_notices = LossNotices("microphone: audio dropped while the assistant was not reading it, blocks",
                                         lambda message: self.notify(message))

    def time_of(self, sample: int) -> float:
        assert self.started_at is not None, "the microphone has not started"
        return self.started_at + sample / SAMPLE_RATE

    def doze(self, wake_above: float | None) -> None:
        """While set, blocks no louder than `wake_above` (mean power) are held in the callback and reach `frames()`
        in batches (`DOZE_S`), held ones first when a louder one comes; None: each block at once."""
        self._wake_above = wake_above

    def _open(self, loop: asyncio.AbstractEventLoop, device: int | None, generation: int) -> Any:
        sd = sounddevice()
        held: list[tuple[int, np.ndarray, float]] = []  # dozing: quiet blocks not yet handed over (this thread's)
        held_since = 0.0  # when the oldest of them came (by the callback's clock: ADC times can be stuck)

        def callback(indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
            nonlocal held_since
            if status.input_overflow:
                self.overflows += 1
            now = time.monotonic()
            captured = now - max(0.0, when.currentTime - when.inputBufferAdcTime)
            block = indata[:, 0].copy()
            if not held:
                held_since = now
            held.append((generation, block, captured))
            wake_above = self._wake_above
            if wake_above is not None and frame_power(block) <= wake_above and now - held_since < DOZE_S:
                return
            batch = held.copy()
            held.clear()
            with contextlib.suppress(RuntimeError):  # the loop is gone: the stream's close is on its way
                loop.call_soon_threadsafe(self._deliver, batch)

        for rate in (SAMPLE_RATE, None):  # 16 kHz if the device can, else its own rate
            try:
                return sd.InputStream(samplerate=rate, channels=1, dtype="float32", device=device,
                                      blocksize=FRAME_SAMPLES if rate else 0, latency="low", callback=callback)
            except sd.PortAudioError as error:
                failure = error
        raise UserError(f"cannot open the microphone: {failure} (hint: `voice-assistant devices`)")

    def _deliver(self, batch: list[tuple[int, np.ndarray, float]]) -> None:
        """On the loop: queue blocks, dropping the oldest when full (the gap becomes silence, times stay true)."""
        for item in batch:
            if self._queue.full():
                self._queue.get_nowait()
                self.dropped += 1
                self._drop_notices.check(self.dropped)
            self._queue.put_nowait(item)

    def _start(self, loop: asyncio.AbstractEventLoop, generation: int) -> _Opened:
        """Open and start a stream on the configured device, else (when reopening) on the default one.

        Blocking (control thread); the loop assigns what it returns, so `frames()` never sees a half-made change."""
        candidates = [self.device] if generation == 0 or self.device is None else [self.device, None]
        for device in candidates:
            try:
                stream = self._open(loop, device, generation)
                stream.start()
                break
            except (UserError, sounddevice().PortAudioError):
                if device is candidates[-1]:
                    raise
        rate = int(stream.samplerate)
        resampler = StreamResampler(rate, SAMPLE_RATE) if rate != SAMPLE_RATE else None
        return _Opened(stream, resampler, device)

    def _use(self, opened: _Opened | None) -> None:
        if opened is not None:
            self._stream, self._resampler, self.opened_on = opened.stream, opened.resampler, opened.device

    async def frames(self) -> AsyncIterator[MicFrame]:
        loop = asyncio.get_running_loop()
        generation = self._generation
        opened = await self._control.run(lambda: self._start(loop, generation), PORTAUDIO_TIMEOUT_S, "opening the mic")
        if opened is None:
            raise UserError(f"the microphone did not open within {PORTAUDIO_TIMEOUT_S:g} s "
                            "(hint: is the sound server hanging? `voice-assistant devices`)")
        self._use(opened)
        self._spawn(self._watch_route(), "watch on the sound server's routing")
        pending = np.zeros(0, dtype=np.float32)
        produced = 0
        last_block = last_tick = time.monotonic()
        try:
            while True:
                try:
                    if self._queue.empty():
                        # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that lands as
                        # the block arrives (every 32 ms), and the closed microphone then runs on for ever.
                        async with asyncio.timeout(MIC_POLL_S):
                            generation, block, captured = await self._queue.get()
                    else:  # the rest of a batch: no timer to set up
                        generation, block, captured = self._queue.get_nowait()
                except TimeoutError:
                    generation = -1
                now = time.monotonic()
                if now - last_tick > MIC_STALL_S / 2:  # the whole loop stalled (CPU): not the microphone's fault
                    last_block = now
                last_tick = now
                if generation == self._generation:
                    last_block = now
                    self.blocks += 1
                    if self.started_at is None:
                        self.started_at = captured
                    # A gap in capture (a reopen, lost blocks) becomes silence, so sample times stay true.
                    gap = round((captured - self.time_of(produced + len(pending))) * SAMPLE_RATE)
                    if self._lost_at is not None:
                        self._recovered()
                    elif gap < MIC_GAP_S * SAMPLE_RATE:
                        gap = 0
                    if self._resampler is not None:
                        block = self._resampler.resample(block)
                    if self.muted_by:
                        block = np.zeros_like(block)
                    pending = np.concatenate([pending, np.zeros(max(0, gap), np.float32), block])
                    self._overflow_notices.check(self.overflows)
                elif self._lost_at is None and (now - last_block > MIC_STALL_S or self._stream_ended):
                    self._lose(loop, "the stream ended" if self._stream_ended else "no sound from it for a second")
                    last_block = now
                elif self._lost_at is not None and self.started_at is not None:
                    # Silence in real time while the microphone is away (a little behind, for the reopened one).
                    behind = round((now - MIC_GAP_S - self.time_of(produced + len(pending))) * SAMPLE_RATE)
                    pending = np.concatenate([pending, np.zeros(max(0, behind), np.float32)])
                while len(pending) >= FRAME_SAMPLES:
                    yield MicFrame(pending[:FRAME_SAMPLES], produced)
                    pending = pending[FRAME_SAMPLES:]
                    produced += FRAME_SAMPLES
        finally:
            self.close()

    @property
    def _stream_ended(self) -> bool:
        """PortAudio stopped the stream on its own: the device or the sound server went away."""
        return self._stream is not None and not self._stream.active

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        """A task ended: a failure is a notice, and a second Ctrl+C that landed in it (the loop is quitting) is
        taken here, not printed as "Task exception was never retrieved" at exit."""
        self._tasks.discard(task)
        if not task.cancelled() and isinstance(error := task.exception(), Exception):
            self.notify(f"microphone: the {task.get_name()} stopped ({error!r})")

    def _lose(self, loop: asyncio.AbstractEventLoop, why: str) -> None:
        self._lost_at = time.monotonic()
        self.notify(f"microphone lost ({why}): trying to reopen it every {MIC_RETRY_S:.0f} s; "
                    "hint: check that it is plugged in")
        self._spawn(self._reopen(loop), "reopening")

    async def _reopen(self, loop: asyncio.AbstractEventLoop) -> None:
        """Until a block comes from a new stream: drop the old one, open another, give it MIC_RETRY_S."""
        while self._lost_at is not None:
            self._generation += 1
            generation = self._generation
            dead, self._stream = self._stream, None
            closing = functools.partial(_close_and_confirm, dead)
            if dead is not None and not await self._control.run(closing, PORTAUDIO_TIMEOUT_S, "closing the lost mic"):
                self._control = ControlThread("mic-control")  # the old one is stuck in PortAudio: leave it
            with contextlib.suppress(UserError, sounddevice().PortAudioError):
                self._use(await self._control.run(functools.partial(self._start, loop, generation),
                                                  PORTAUDIO_TIMEOUT_S, "reopening the microphone"))
            await asyncio.sleep(MIC_RETRY_S)

    def _recovered(self) -> None:
        away = time.monotonic() - (self._lost_at or 0.0)
        self._lost_at = None
        self.reopens += 1
        where = "the system default device" if self.opened_on is None else f"device {self.opened_on}"
        self.notify(f"microphone back after {away:.1f} s (on {where}): listening again")

    async def _watch_route(self) -> None:
        """On PulseAudio: mute the input while the server has moved it to a monitor (the speaker's own sound)."""
        from assistant.audio import pulse_route

        seen: Source | None = None
        while watch := pulse_route.watch_sources():
            try:
                seen = await pulse_route.capture_source() or seen
                while watch.alive:
                    await watch.changed.wait()
                    watch.changed.clear()
                    source = await pulse_route.capture_source()
                    if source is not None and source != seen:
                        if seen is not None:
                            self._route_changed(seen, source)
                        seen = source
            finally:
                watch.close()
            await asyncio.sleep(ROUTE_CHECK_S)  # the server went away: subscribe again once it is back

    def _route_changed(self, before: Source, now: Source) -> None:
        if now.is_monitor:
            self.muted_by = now.description
            self.notify(f"microphone {before.description!r} is gone: the sound server moved the input to "
                        f"{now.description!r} (what the speaker plays), so it is muted until a microphone is back")
        else:
            self.notify(f"microphone back: listening on {now.description!r}" if self.muted_by else
                        f"microphone {before.description!r} is gone: now listening on {now.description!r}")
            self.muted_by = None

    def close(self) -> None:
        self._lost_at = None
        for task in self._tasks:
            task.cancel()
        if self._stream is not None:
            self._control.submit(self._stream.close)  # not waited for: a dead server may never answer
            self._stream = None
        if self._resampler is not None:
            self._resampler.close()
        self._control.close()


def _close_and_confirm(stream: Any) -> bool:
    stream.close()
    return True
