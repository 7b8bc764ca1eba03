"""Real sound devices through sounddevice (PortAudio): device lookup, the microphone and the speaker.

PortAudio calls our callbacks on its own thread. They only copy a block and hand it to the event loop with
`call_soon_threadsafe` (microphone), or pull a block from the thread-safe chunk buffer (speaker): they never
block and never touch a model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from assistant.audio.buffer import ChunkBuffer
from assistant.audio.pulse_route import Source
from assistant.core.ports import PlayingChunk
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, AudioChunk, MicFrame
from assistant.errors import NoDeviceError, UserError

SPEAKER_BLOCK_S = 0.01  # 10 ms blocks
# 40 ms of device buffering: with less, PulseAudio's ALSA plugin underflows for the first ~0.5 s of a stream.
# It costs nothing on a cut: pause and flush abort the stream, which silences it at once (~1 ms to restart).
SPEAKER_LATENCY_S = 0.04
MIC_POLL_S = 0.1  # how often the microphone loop wakes up with no audio, to check on the stream
MIC_STALL_S = 1.0  # no audio for this long: the stream died, or stalled (a suspended source, a PipeWire node gone)
MIC_RETRY_S = 1.0  # a lost microphone is reopened this often
MIC_GAP_S = 0.25  # a capture gap longer than this (lost blocks) is filled with silence, so sample times stay true
ROUTE_CHECK_S = 1.0  # how soon the route watch subscribes again after the sound server went away
LOSS_NOTICE_EVERY_S = 10.0  # at most one overflow or underflow notice per this long
MIC_QUEUE_BLOCKS = 125  # 4 s of unread blocks, then drop-oldest: a stuck reader never grows the queue without end

log = logging.getLogger(__name__)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as error:  # the PortAudio shared library is missing
        raise UserError(f"cannot use sound devices: {error} (hint: install libportaudio2)") from None
    return sounddevice


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    host_api: str
    inputs: int
    outputs: int
    default_rate: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[Device]:
    sd = _sounddevice()
    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as error:
        raise NoDeviceError(f"cannot list sound devices: {error} ({_sound_server_hint()})") from None
    return [Device(d["index"], d["name"], apis[d["hostapi"]]["name"], d["max_input_channels"],
                   d["max_output_channels"], d["default_samplerate"], d["index"] == default_in,
                   d["index"] == default_out) for d in raw]


def _sound_server_hint() -> str:
    server = os.environ.get("PULSE_SERVER")
    where = f"is a sound server listening at PULSE_SERVER={server}?" if server else "is a sound server running?"
    return f"hint: {where} `voice-assistant devices` lists what PortAudio sees"


def describe_devices(devices: list[Device]) -> str:
    if not devices:
        return "no sound devices found (PortAudio sees none: no sound card, or no sound server running)"
    lines = [f"{'':2}{'#':>3}  {'name':40} {'host API':12} {'in':>3} {'out':>3} {'rate':>7}"]
    for d in devices:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        lines.append(f"{mark}{d.index:>3}  {d.name[:40]:40} {d.host_api[:12]:12} {d.inputs:>3} {d.outputs:>3} "
                     f"{d.default_rate:>7.0f}")
    lines.append("< default input, > default output")
    return "\n".join(lines)


def resolve_device(spec: str, kind: str, devices: list[Device] | None = None) -> int | None:
    """A device index from a config/CLI value: "" = the system default, a number = that index, else a
    case-insensitive part of its name. `kind` is "input" or "output"."""
    devices = list_devices() if devices is None else devices
    usable = [d for d in devices if (d.inputs if kind == "input" else d.outputs) > 0]
    if not devices:
        raise NoDeviceError(f"no sound devices at all: PortAudio sees none ({_sound_server_hint()})")
    if not usable:
        what = "microphone" if kind == "input" else "speaker"
        raise NoDeviceError(f"no {kind} device found (hint: check that a {what} is connected; "
                            "`voice-assistant devices` lists what PortAudio sees)")
    spec = spec.strip()
    if not spec:
        return None
    names = ", ".join(f"{d.index}: {d.name}" for d in usable)
    if spec.isdigit():
        if int(spec) in {d.index for d in usable}:
            return int(spec)
        raise UserError(f"no {kind} device has index {spec} (candidates: {names})")
    matches = [d for d in usable if spec.lower() in d.name.lower()]
    exact = [d for d in matches if d.name.lower() == spec.lower()]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0].index
    if not matches:
        raise UserError(f"no {kind} device matches {spec!r} (candidates: {names})")
    found = ", ".join(f"{d.index}: {d.name}" for d in matches)
    raise UserError(f"{len(matches)} {kind} devices match {spec!r}: {found} (use the index or a longer name)")


class LossNotices:
    """At most one notice per LOSS_NOTICE_EVERY_S about audio blocks lost since the last one (the count goes on)."""

    def __init__(self, what: str, notify: Callable[[str], None]) -> None:
        self.what = what
        self.notify = notify
        self._reported = 0
        self._at = -LOSS_NOTICE_EVERY_S

    def check(self, total: int) -> None:
        now = time.monotonic()
        if total > self._reported and now - self._at >= LOSS_NOTICE_EVERY_S:
            self.notify(f"{self.what}: {total} so far; the machine is too busy to keep up "
                        "(hint: close other programs, or use a smaller model)")
            self._reported, self._at = total, now


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
        self._queue: asyncio.Queue[tuple[int, np.ndarray, float]] = asyncio.Queue(MIC_QUEUE_BLOCKS)
        self._stream: Any = None
        self._generation = 0  # bumped on each reopen: blocks of a dropped stream are ignored
        self._resampler: Any = None
        self._lost_at: float | None = None
        self._tasks: set[asyncio.Task] = set()
        self._overflow_notices = LossNotices("microphone: audio lost to input overflow, blocks",
                                             lambda message: self.notify(message))
        self._drop_notices = LossNotices("microphone: audio dropped while the assistant was not reading it, blocks",
                                         lambda message: self.notify(message))

    def time_of(self, sample: int) -> float:
        assert self.started_at is not None, "the microphone has not started"
        return self.started_at + sample / SAMPLE_RATE

    def _open(self, loop: asyncio.AbstractEventLoop, device: int | None, generation: int) -> Any:
        sd = _sounddevice()

        def callback(indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
            if status.input_overflow:
                self.overflows += 1
            captured = time.monotonic() - max(0.0, when.currentTime - when.inputBufferAdcTime)
            loop.call_soon_threadsafe(self._deliver, (generation, indata[:, 0].copy(), captured))

        for rate in (SAMPLE_RATE, None):  # 16 kHz if the device can, else its own rate
            try:
                return sd.InputStream(samplerate=rate, channels=1, dtype="float32", device=device,
                                      blocksize=FRAME_SAMPLES if rate else 0, latency="low", callback=callback)
            except sd.PortAudioError as error:
                failure = error
        raise UserError(f"cannot open the microphone: {failure} (hint: `voice-assistant devices`)")

    def _deliver(self, item: tuple[int, np.ndarray, float]) -> None:
        """On the loop: queue a block, dropping the oldest when full (the gap becomes silence, times stay true)."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            self._drop_notices.check(self.dropped)
        self._queue.put_nowait(item)

    def _start(self, loop: asyncio.AbstractEventLoop, generation: int) -> None:
        """Open and start a stream on the configured device, else (when reopening) on the default one."""
        candidates = [self.device] if generation == 0 or self.device is None else [self.device, None]
        for device in candidates:
            try:
                stream = self._open(loop, device, generation)
                stream.start()
                break
            except (UserError, _sounddevice().PortAudioError):
                if device is candidates[-1]:
                    raise
        rate = int(stream.samplerate)
        self._resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32") if rate != SAMPLE_RATE else None
        self._stream, self.opened_on = stream, device

    async def frames(self) -> AsyncIterator[MicFrame]:
        loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._start, loop, self._generation)
        self._spawn(self._watch_route())
        pending = np.zeros(0, dtype=np.float32)
        produced = 0
        last_block = last_tick = time.monotonic()
        try:
            while True:
                try:
                    # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that lands as
                    # the block arrives (every 32 ms), and the closed microphone then runs on for ever.
                    async with asyncio.timeout(MIC_POLL_S):
                        generation, block, captured = await self._queue.get()
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
                        block = self._resampler.resample_chunk(block)
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

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _lose(self, loop: asyncio.AbstractEventLoop, why: str) -> None:
        self._lost_at = time.monotonic()
        self.notify(f"microphone lost ({why}): trying to reopen it every {MIC_RETRY_S:.0f} s; "
                    "hint: check that it is plugged in")
        self._spawn(self._reopen(loop))

    async def _reopen(self, loop: asyncio.AbstractEventLoop) -> None:
        """Until a block comes from a new stream: drop the old one, open another, give it MIC_RETRY_S."""
        while self._lost_at is not None:
            self._generation += 1
            dead, self._stream = self._stream, None
            if dead is not None:  # off the loop: closing a dead stream may wait on the device
                await asyncio.to_thread(dead.close)
            with contextlib.suppress(UserError, _sounddevice().PortAudioError):
                await asyncio.to_thread(self._start, loop, self._generation)
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
            self._stream.close()
            self._stream = None


class DeviceSpeaker:
    """A running output stream that pulls from the chunk buffer; silence when there is nothing to say.

    The stream is never stopped between replies (stopping drops the last ~100 ms of buffered audio), so the
    end of an utterance is never clipped. Chunk start/end times are PortAudio's DAC times, on the monotonic clock.
    """

    def __init__(self, sample_rate: int, device: int | None = None, notify: Callable[[str], None] | None = None
                 ) -> None:
        sd = _sounddevice()
        self.notify: Callable[[str], None] = notify or log.warning
        self.underflows = 0  # blocks the device had to fill in (silence) because ours came late; never replayed
        self._underflow_notices = LossNotices("speaker: output underflow (audio came late), blocks",
                                              lambda message: self.notify(message))
        self._buffer = ChunkBuffer()
        self._loop = asyncio.get_running_loop()
        self.dac_times_seen = False  # whether the host API reports DAC times (else: callback time + latency)
        try:
            self._stream = sd.OutputStream(samplerate=sample_rate, channels=1, dtype="float32", device=device,
                                           blocksize=int(SPEAKER_BLOCK_S * sample_rate),
                                           latency=SPEAKER_LATENCY_S,
                                           callback=self._callback)
        except sd.PortAudioError as error:
            raise UserError(f"cannot open the speaker at {sample_rate} Hz: {error} "
                            "(hint: `voice-assistant devices`, or set [audio] output_sample_rate)") from None
        self.sample_rate = int(self._stream.samplerate)
        self._stream.start()

    def _callback(self, outdata: np.ndarray, frames: int, when: Any, status: Any) -> None:
        if status.output_underflow:
            self.underflows += 1
            self._loop.call_soon_threadsafe(self._underflow_notices.check, self.underflows)
        pulled = self._buffer.pull(frames)
        outdata[:, 0] = pulled.samples
        if not (pulled.started or pulled.finished):
            return
        ahead = when.outputBufferDacTime - when.currentTime
        if 0 < ahead < 2:  # priming callbacks report DAC time == current time: not a real DAC time
            self.dac_times_seen = True
        else:
            ahead = self._stream.latency
        block_at = time.monotonic() + ahead
        for playing, offset in pulled.started:
            self._loop.call_soon_threadsafe(playing.mark_started, block_at + offset / self.sample_rate)
        for playing, offset in pulled.finished:
            self._loop.call_soon_threadsafe(playing.mark_finished, block_at + offset / self.sample_rate)

    @property
    def latency(self) -> float:
        return float(self._stream.latency)

    def enqueue(self, chunk: AudioChunk) -> PlayingChunk:
        return self._buffer.enqueue(chunk, self.sample_rate)

    def _cut(self) -> float:
        """Silence now: aborting drops what PortAudio has buffered (stop() would play it out first)."""
        self._stream.abort()
        silent_at = time.monotonic()
        self._stream.start()
        return silent_at

    def pause(self) -> float:
        self._buffer.paused = True
        silent_at = self._cut()
        # The aborted device buffer was never heard: play it again on resume instead of skipping it.
        self._buffer.rewind(int((self.latency + SPEAKER_BLOCK_S) * self.sample_rate))
        return silent_at

    def resume(self) -> None:
        self._buffer.paused = False

    def flush(self) -> float:
        self._buffer.clear()
        return self._cut()

    @property
    def queued_seconds(self) -> float:
        return self._buffer.queued_samples / self.sample_rate

    def close(self) -> None:
        self._stream.close()
