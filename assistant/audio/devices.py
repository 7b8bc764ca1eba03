"""Real sound devices through sounddevice (PortAudio): device lookup, the microphone and the speaker.

PortAudio calls our callbacks on its own thread. They only copy a block and hand it to the event loop with
`call_soon_threadsafe` (microphone), or pull a block from the thread-safe chunk buffer (speaker): they never
block and never touch a model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from assistant.audio.playback import ChunkBuffer, PlayingChunk
from assistant.errors import UserError
from assistant.events import FRAME_SAMPLES, SAMPLE_RATE, AudioChunk, MicFrame

SPEAKER_BLOCK_S = 0.01  # 10 ms blocks
# 40 ms of device buffering: with less, PulseAudio's ALSA plugin underflows for the first ~0.5 s of a stream.
# It costs nothing on a cut: pause and flush abort the stream, which silences it at once (~1 ms to restart).
SPEAKER_LATENCY_S = 0.04


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
        raise UserError(f"cannot list sound devices: {error}") from None
    return [Device(d["index"], d["name"], apis[d["hostapi"]]["name"], d["max_input_channels"],
                   d["max_output_channels"], d["default_samplerate"], d["index"] == default_in,
                   d["index"] == default_out) for d in raw]


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
    if not usable:
        raise UserError(f"no {kind} device found (hint: check that a {'microphone' if kind == 'input' else 'speaker'}"
                        f" is connected; `voice-assistant devices` lists what PortAudio sees)")
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


class DeviceMicrophone:
    """16 kHz mono frames from a capture device; opened at 16 kHz if the device allows, else resampled."""

    def __init__(self, device: int | None = None) -> None:
        self.device = device
        self.overflows = 0  # blocks PortAudio reported as lost before we read them
        self.blocks = 0
        self.started_at: float | None = None  # monotonic capture time of input sample 0
        self._queue: asyncio.Queue[tuple[np.ndarray, float]] = asyncio.Queue()
        self._stream: Any = None

    def time_of(self, sample: int) -> float:
        assert self.started_at is not None, "the microphone has not started"
        return self.started_at + sample / SAMPLE_RATE

    def _open(self, loop: asyncio.AbstractEventLoop) -> Any:
        sd = _sounddevice()

        def callback(indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
            if status.input_overflow:
                self.overflows += 1
            captured = time.monotonic() - max(0.0, when.currentTime - when.inputBufferAdcTime)
            loop.call_soon_threadsafe(self._queue.put_nowait, (indata[:, 0].copy(), captured))

        for rate in (SAMPLE_RATE, None):  # 16 kHz if the device can, else its own rate
            try:
                return sd.InputStream(samplerate=rate, channels=1, dtype="float32", device=self.device,
                                      blocksize=FRAME_SAMPLES if rate else 0, latency="low", callback=callback)
            except sd.PortAudioError as error:
                failure = error
        raise UserError(f"cannot open the microphone: {failure} (hint: `voice-assistant devices`)")

    async def frames(self) -> AsyncIterator[MicFrame]:
        self._stream = self._open(asyncio.get_running_loop())
        rate = int(self._stream.samplerate)
        resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32") if rate != SAMPLE_RATE else None
        self._stream.start()
        pending = np.zeros(0, dtype=np.float32)
        produced = 0
        try:
            while True:
                block, captured = await self._queue.get()
                self.blocks += 1
                if resampler is not None:
                    block = resampler.resample_chunk(block)
                if self.started_at is None:
                    self.started_at = captured
                pending = np.concatenate([pending, block])
                while len(pending) >= FRAME_SAMPLES:
                    yield MicFrame(pending[:FRAME_SAMPLES], produced)
                    pending = pending[FRAME_SAMPLES:]
                    produced += FRAME_SAMPLES
        finally:
            self.close()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class DeviceSpeaker:
    """A running output stream that pulls from the chunk buffer; silence when there is nothing to say.

    The stream is never stopped between replies (stopping drops the last ~100 ms of buffered audio), so the
    end of an utterance is never clipped. Chunk start/end times are PortAudio's DAC times, on the monotonic clock.
    """

    def __init__(self, sample_rate: int, device: int | None = None) -> None:
        sd = _sounddevice()
        self.underflows = 0
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
        for playing in self._buffer.clear():
            playing.mark_dropped()
        self._buffer.paused = False
        return self._cut()

    @property
    def queued_seconds(self) -> float:
        return self._buffer.queued_samples / self.sample_rate

    def close(self) -> None:
        self._stream.close()
