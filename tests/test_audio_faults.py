"""Sound-device faults: the mic unplugged or stalled mid-session, no devices at all, lost input, late output.

These tests unload PulseAudio modules and kill the daemon, so they run on a private daemon (`own_devices`),
never on the shared one other test runs may be using.
"""

import asyncio
import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.audio import microphone as microphone_module
from assistant.audio import pulse_route
from assistant.audio.microphone import MIC_GAP_S, DeviceMicrophone
from assistant.audio.speaker import SPEAKER_BLOCK_S, SPEAKER_LATENCY_S, DeviceSpeaker
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, AudioChunk
from tests.pulse import (
    MIC_SOURCE,
    SPEAKER_SINK,
    pactl,
    play_into_mic,
    private_audio_devices,
    record_speaker,
    start_audio_devices,
    stop_audio_devices,
)
from tests.test_devices import until
from tests.util import REPO

LOUD_RMS = 0.05  # a fed tone of amplitude 0.3 gives ~0.2 rms; the noise floor of a null sink is 0


@pytest.fixture(scope="module")
def own_devices(tmp_path_factory):
    with private_audio_devices(tmp_path_factory.mktemp("pulse")) as audio:
        yield audio


def tone(seconds: float, rate: int = SAMPLE_RATE, amplitude: float = 0.3) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


class MicTap:
    """Runs a DeviceMicrophone on the loop; keeps each frame's start, level and arrival time, and the notices."""

    def __init__(self, microphone: DeviceMicrophone | None = None, stall_at_frame: int | None = None) -> None:
        self.microphone = microphone or DeviceMicrophone()
        self.notices: list[tuple[float, str]] = []
        self.microphone.notify = lambda message: self.notices.append((time.monotonic(), message))
        self.frames: list[tuple[int, float, float]] = []  # (start, rms, arrival)
        self._stall_at = stall_at_frame
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        async for frame in self.microphone.frames():
            self.frames.append((frame.start, float(np.sqrt(np.mean(frame.samples ** 2))), time.monotonic()))
            if len(self.frames) == self._stall_at:
                time.sleep(1.5)  # the consumer (and the whole loop) stalls, as under heavy CPU load

    def noticed(self, words: str) -> float | None:
        return next((at for at, message in self.notices if words in message), None)

    async def notice(self, words: str, timeout: float) -> float:
        await until(lambda: self.noticed(words) is not None, timeout)
        return self.noticed(words)

    def loudest(self, since: float, until_: float | None = None) -> float:
        levels = [rms for _, rms, at in self.frames if at >= since and (until_ is None or at < until_)]
        return max(levels, default=0.0)

    async def hears_the_mic(self, timeout: float = 10.0) -> None:
        """Feed a tone into the virtual mic (again, until heard: a moved stream takes a moment to settle)."""
        deadline = time.monotonic() + timeout
        while True:
            fed_at = time.monotonic()
            await asyncio.to_thread(play_into_mic(tone(0.5), SAMPLE_RATE).wait)
            await asyncio.sleep(0.2)
            if self.loudest(fed_at) > LOUD_RMS:
                return
            assert time.monotonic() < deadline, f"the mic is not heard; notices: {self.notices}"

    def assert_real_time(self, began: float) -> None:
        """Frames are contiguous and keep pace with the clock: no gap, nothing lost, nothing made up."""
        starts = [start for start, _, _ in self.frames]
        assert starts == [i * FRAME_SAMPLES for i in range(len(starts))]
        audio_s = len(starts) * FRAME_SAMPLES / SAMPLE_RATE
        elapsed = time.monotonic() - began
        assert elapsed - 0.6 < audio_s < elapsed + 0.2, (audio_s, elapsed)

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


def unload(module: str) -> list[str]:
    """Unload the first PulseAudio module `module`; returns the arguments that load it again."""
    for line in pactl("list", "short", "modules").splitlines():
        index, name, *rest = line.split("\t")
        if name == module:
            pactl("unload-module", index)
            return [name, *(rest[0].split() if rest else [])]
    raise LookupError(module)


def test_mic_unplugged_is_muted_not_heard_as_the_speaker_and_resumes_when_back(own_devices):
    async def run():
        tap = MicTap()
        await tap.hears_the_mic()
        began = tap.frames[0][2]
        speaker = play_into_mic(tone(12), SAMPLE_RATE, sink=SPEAKER_SINK)  # the assistant talking, all along
        unplugged = time.monotonic()
        mic_module = unload("module-remap-source")
        muted = await tap.notice("is gone", timeout=6)
        await asyncio.sleep(1.5)
        heard_itself = tap.loudest(muted + 0.2, time.monotonic())  # after the notice, while the speaker plays
        pactl("load-module", *mic_module)
        plugged = time.monotonic()
        back = await tap.notice("microphone back: listening on 'Mic'", timeout=6)
        await tap.hears_the_mic()
        tap.assert_real_time(began)
        speaker.stop()
        await tap.close()
        return tap, muted - unplugged, heard_itself, back - plugged

    tap, detect_s, heard_itself, resume_s = asyncio.run(run())
    print(f"mic unplugged: muted after {detect_s:.2f} s; back {resume_s:.2f} s after replugging; {tap.notices}")
    assert heard_itself < 1e-3, "the assistant hears its own speaker through the monitor PulseAudio moved it to"
    assert detect_s < 4 and resume_s < 4
    assert tap.microphone.muted_by is None


def test_mic_that_stops_delivering_is_reopened_and_listening_resumes(own_devices):
    async def run():
        tap = MicTap()
        await tap.hears_the_mic()
        began = tap.frames[0][2]
        stalled = time.monotonic()
        pactl("suspend-source", MIC_SOURCE, "1")  # the stream stays open but gets no sound (like a PipeWire node gone)
        lost = await tap.notice("microphone lost", timeout=5)
        await asyncio.sleep(2.5)  # a few reopen attempts on a device that still gives nothing
        pactl("suspend-source", MIC_SOURCE, "0")
        resumed = time.monotonic()
        back = await tap.notice("microphone back", timeout=5)
        await tap.hears_the_mic()
        tap.assert_real_time(began)  # silence stood in for the lost time, so turn timings stay true
        await tap.close()
        return tap, lost - stalled, back - resumed

    tap, detect_s, resume_s = asyncio.run(run())
    print(f"mic stalled: noticed after {detect_s:.2f} s; back {resume_s:.2f} s after it resumed; {tap.notices}")
    assert detect_s < 3 and resume_s < 3
    assert len([m for _, m in tap.notices if "microphone lost" in m]) == 1  # one notice, not one per retry


def test_sound_server_restart_is_survived(own_devices):
    async def run():
        tap = MicTap()
        await tap.hears_the_mic()
        killed = time.monotonic()
        await asyncio.to_thread(stop_audio_devices)
        try:
            # Usually PortAudio ends the stream at once ("the stream ended"); sometimes ALSA's pulse plugin just
            # goes quiet instead, and a second without sound says the same ("no sound from it for a second").
            lost = await tap.notice("microphone lost", timeout=5)
            await asyncio.sleep(1.5)
        finally:  # the module's later tests need the daemon back, whatever happened here
            await asyncio.to_thread(start_audio_devices)
        restarted = time.monotonic()
        back = await tap.notice("microphone back", timeout=8)
        await tap.hears_the_mic()
        await tap.close()
        return tap, lost - killed, back - restarted

    tap, detect_s, resume_s = asyncio.run(run())
    print(f"sound server killed: noticed after {detect_s:.2f} s; back {resume_s:.2f} s after restart; {tap.notices}")
    assert detect_s < 3 and resume_s < 5


def test_a_stalled_consumer_loses_nothing_and_is_not_taken_for_a_lost_mic(own_devices):
    async def run():
        tap = MicTap(stall_at_frame=20)
        await until(lambda: len(tap.frames) > 120, timeout=15)  # ~2.2 s after the 1.5 s stall
        tap.assert_real_time(tap.frames[0][2])
        await tap.close()
        return tap

    tap = asyncio.run(run())
    assert tap.notices == [] and tap.microphone.overflows == 0 and tap.microphone.reopens == 0


class _OverflowingStream:
    """A stand-in PortAudio input stream: 32 ms blocks in real time, then 0.5 s lost, flagged as an overflow."""

    def __init__(self, *, callback, **_) -> None:
        self.samplerate, self.active, self._callback = SAMPLE_RATE, True, callback

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        begin = time.monotonic()
        for block in range(60):
            if 20 <= block < 36:  # lost: the next callback says so
                continue
            due = begin + block * FRAME_SAMPLES / SAMPLE_RATE
            time.sleep(max(0.0, due - time.monotonic()))
            if not self.active:  # closed meanwhile: PortAudio calls no callback after that
                return
            when = SimpleNamespace(currentTime=time.monotonic(), inputBufferAdcTime=due)
            status = SimpleNamespace(input_overflow=block == 36)
            self._callback(np.full((FRAME_SAMPLES, 1), 0.1, np.float32), FRAME_SAMPLES, when, status)

    def close(self) -> None:
        self.active = False


def test_input_overflow_is_counted_noticed_and_its_gap_kept_as_silence(monkeypatch):
    fake = SimpleNamespace(InputStream=_OverflowingStream, PortAudioError=RuntimeError)
    monkeypatch.setattr(microphone_module, "sounddevice", lambda: fake)
    monkeypatch.setattr(pulse_route.shutil, "which", lambda name: None)  # no sound server to ask
    # A loaded machine must not turn the 0.5 s hole into "the microphone is lost" (which has tests of its own): that
    # would reopen the stream and fill in silence, and this test is about the overflow's hole alone.
    monkeypatch.setattr(microphone_module, "MIC_STALL_S", 5.0)
    # The hole is measured from capture times, so it comes out right to within a sample or two (a thread preempted
    # between the stand-in's clock and the callback's): the stand-in's last block may end a sample short of a frame.
    last = 58 * FRAME_SAMPLES

    async def run():
        tap = MicTap(DeviceMicrophone())
        await until(lambda: any(start >= last for start, _, _ in tap.frames), timeout=10)
        await tap.close()
        return tap

    tap = asyncio.run(run())
    assert tap.microphone.overflows == 1 and tap.microphone.reopens == 0
    assert [m for _, m in tap.notices if "input overflow, blocks: 1 so far" in m]
    silent = [start for start, rms, _ in tap.frames if rms == 0 and start <= last]
    assert len(silent) in (15, 16) and silent[0] == 20 * FRAME_SAMPLES  # the lost 0.5 s, in its place
    assert 16 * FRAME_SAMPLES / SAMPLE_RATE > MIC_GAP_S  # (a shorter loss is not worth a hole in the speech)


def hold_the_gil(seconds: float) -> None:
    """Keep every other Python thread (PortAudio's callbacks too) off the CPU, like a busy engine thread."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    finally:
        sys.setswitchinterval(interval)


def test_speaker_underflow_is_counted_and_never_repeats_audio(own_devices):
    rate = 24000
    ramp = np.linspace(0.05, 0.95, rate, dtype=np.float32)  # 1 s; any replayed stretch would step back down

    async def run():
        notices = []
        speaker = DeviceSpeaker(rate, notify=notices.append)
        await speaker.start()
        recording = record_speaker(rate=rate)
        playing = speaker.enqueue(AudioChunk(ramp, rate))
        await asyncio.sleep(0.3)
        hold_the_gil(0.4)
        await asyncio.wait_for(playing.done.wait(), timeout=5)
        await asyncio.sleep(0.3)
        audio = recording.stop()
        speaker.close()
        return speaker.underflows, notices, audio

    underflows, notices, audio = asyncio.run(run())
    assert underflows >= 1, "precondition: the stalled callback made the device underflow"
    assert [n for n in notices if "output underflow" in n]
    loud = np.abs(audio) > 0.02
    skipped_ms = (len(ramp) - int(loud.sum())) * 1000 / rate
    print(f"speaker underflows: {underflows}; {skipped_ms:.0f} ms of the reply skipped; {notices}")
    assert skipped_ms > -5, "audio was played twice"
    # Recovering from an underflow drops what the device had buffered (at most its latency and a block), no more.
    assert skipped_ms < underflows * (SPEAKER_LATENCY_S + SPEAKER_BLOCK_S) * 1000 + 5
    # Away from the gaps (resampler ringing), the ramp only ever goes up: nothing was played twice.
    edge = np.convolve(~loud, np.ones(49), mode="same") > 0
    steady = audio[~edge]
    medians = np.median(steady[: len(steady) // 48 * 48].reshape(-1, 48), axis=1)
    assert np.diff(medians).min() > -0.005, "the speaker stepped back: it played something again"


def _no_devices_run(*args: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PULSE_SERVER": "unix:/nonexistent/va-no-sound-server"}
    return subprocess.run([sys.executable, "-m", "assistant", "--config", str(tmp_path / "none.toml"), *args],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)


@pytest.mark.parametrize("command", [["listen"], []], ids=["listen", "tui"])
def test_no_sound_devices_at_all_is_one_line_and_exit_status_2(command, tmp_path):
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    result = _no_devices_run(*command, tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert "no sound devices at all" in result.stderr and "PULSE_SERVER=unix:/nonexistent" in result.stderr


class _SteadyStream(_OverflowingStream):
    """A stand-in input stream: 32 ms blocks of a level that rises block by block, in real time, for 3 s."""

    def _run(self) -> None:
        begin = time.monotonic()
        for block in range(94):
            due = begin + block * FRAME_SAMPLES / SAMPLE_RATE
            time.sleep(max(0.0, due - time.monotonic()))
            if not self.active:  # closed meanwhile: PortAudio calls no callback after that
                return
            when = SimpleNamespace(currentTime=time.monotonic(), inputBufferAdcTime=due)
            self._callback(np.full((FRAME_SAMPLES, 1), 0.001 * (block + 1), np.float32), FRAME_SAMPLES, when,
                           SimpleNamespace(input_overflow=False))


def test_a_reader_that_stops_reading_gets_a_bounded_queue_and_a_counted_notice(monkeypatch):
    monkeypatch.setattr(microphone_module, "sounddevice", lambda: SimpleNamespace(InputStream=_SteadyStream,
                                                                                  PortAudioError=RuntimeError))
    monkeypatch.setattr(pulse_route.shutil, "which", lambda name: None)
    monkeypatch.setattr(microphone_module, "MIC_QUEUE_BLOCKS", 10)

    async def run():
        microphone = DeviceMicrophone()
        notices = []
        microphone.notify = notices.append
        frames = microphone.frames()
        first = await frames.__anext__()
        longest = 0
        for _ in range(40):  # 2 s without reading: the loop runs, the reader does not
            await asyncio.sleep(0.05)
            longest = max(longest, microphone._queue.qsize())
        rest = [await frames.__anext__() for _ in range(10)]
        await frames.aclose()
        return microphone, notices, longest, [first, *rest]

    microphone, notices, longest, frames = asyncio.run(run())
    assert longest == 10  # bounded, and full
    assert 45 <= microphone.dropped <= 65  # ~2 s of 32 ms blocks, less the 10 kept
    assert [n for n in notices if "audio dropped while the assistant was not reading it, blocks: 1 so far" in n]
    # What was kept is the newest audio, in its place on the timeline: the dropped stretch became silence.
    levels = [float(frame.samples.max()) for frame in frames]
    starts = [frame.start for frame in frames]
    assert starts == [i * FRAME_SAMPLES for i in range(len(starts))]
    assert levels[0] == pytest.approx(0.001) and 0.0 in levels[1:]


def test_a_microphone_task_that_fails_is_a_notice_and_a_second_ctrl_c_in_one_is_not_printed_at_exit(caplog):
    """The microphone's own tasks (the route watch, the reopening) are not awaited by anyone: a failure in one is a
    one-line notice; a KeyboardInterrupt that lands in one (a second Ctrl+C while quitting) is not reported as
    "Task exception was never retrieved" with a traceback when the process exits."""
    import gc

    notices: list[str] = []
    microphone = DeviceMicrophone(notify=notices.append)

    async def fails() -> None:
        raise OSError("pactl is gone")

    async def interrupted() -> None:
        raise KeyboardInterrupt

    async def session() -> None:
        microphone._spawn(fails(), "watch on the sound server's routing")
        await asyncio.sleep(0.05)
        microphone._spawn(interrupted(), "reopening")
        await asyncio.sleep(1)

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(session())
    gc.collect()
    assert notices == ["microphone: the watch on the sound server's routing stopped (OSError('pactl is gone'))"]
    assert "never retrieved" not in caplog.text
