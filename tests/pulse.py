"""Real (virtual) sound devices for tests: a private PulseAudio daemon reached through sounddevice.

`scripts/test-audio-devices.sh` runs the daemon with a null sink "speaker" (default sink: what the assistant
plays into; its monitor "speaker.monitor" is what tests record) and a virtual microphone "mic" (default source,
remapped from the monitor of the null sink "mic_feed" that tests play into). The app opens sounddevice's
"pulse" (or "default") device exactly as on a user's machine: PortAudio -> ALSA -> ALSA pulse plugin -> daemon.

Use (the lead wires these into conftest.py):

    from tests.pulse import audio_devices, onset, play_into_mic, record_speaker   # audio_devices: a fixture

    def test_something(audio_devices):
        rec = record_speaker()                       # speaker.monitor, float32 mono 24 kHz
        feed = play_into_mic(speech_16k, 16000)      # into mic_feed -> "mic"
        feed.wait()
        audio = rec.stop()
        reply_onset_time = rec.time_of(onset(audio))   # time.monotonic() clock

All times are time.monotonic() seconds; PulseAudio's null sinks are clocked by CLOCK_MONOTONIC, so sample
positions and monotonic times convert without drift. `MicFeed.time_of` and `Recording.time_of` both give the
time a sample was mixed into its null sink (a null sink mixes ~10 ms ahead of its nominal play time). Measured
here: the app's speaker DAC-time marks (callback time + outputBufferDacTime - currentTime) come ~10 ms after
`Recording.time_of` for the same sample; the app's mic capture times (callback time - (currentTime -
inputBufferAdcTime)) come ~16 ms after `MicFeed.time_of`.

The environment (PULSE_SERVER & co.) must be in os.environ before PortAudio initialises (sounddevice's import);
`start_audio_devices` re-initialises PortAudio if sounddevice was already imported.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "test-audio-devices.sh"

SPEAKER_SINK = "speaker"
SPEAKER_MONITOR = "speaker.monitor"
MIC_SOURCE = "mic"
MIC_FEED_SINK = "mic_feed"
SOUNDDEVICE_NAME = "pulse"   # the ALSA PCM sounddevice lists ("default" routes to the same daemon)
CLIENT_ENV = ("PULSE_SERVER", "PULSE_COOKIE", "PULSE_CLIENTCONFIG", "PULSE_RUNTIME_PATH", "VA_PULSE_DIR")
DEVICE_RATE = 48000          # the virtual hardware's rate; clients at 16/24 kHz are resampled by PulseAudio


@dataclass(frozen=True)
class AudioDevices:
    """What a test needs to address the virtual devices."""

    env: dict[str, str]                   # PULSE_SERVER etc., already applied to os.environ
    started_here: bool                    # False if the daemon was already running (then it is left running)
    sounddevice_name: str = SOUNDDEVICE_NAME   # pass as `device=` to sounddevice streams
    speaker_sink: str = SPEAKER_SINK           # PulseAudio names, for pactl/pacat/parec
    speaker_monitor: str = SPEAKER_MONITOR
    mic_source: str = MIC_SOURCE
    mic_feed_sink: str = MIC_FEED_SINK
    device_rate: int = DEVICE_RATE


def _script(command: str) -> str:
    done = subprocess.run(["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} {command} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def _parse_exports(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = shlex.split(value)[0]
    return env


def _reinitialise_portaudio() -> None:
    """PortAudio lists devices (and ALSA reads its config) once at init: redo it if that already happened."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


def start_audio_devices() -> AudioDevices:
    """Start the devices (or reuse running ones) and point this process (and its children) at them."""
    out = _script("start")
    env = _parse_exports(out)
    if "PULSE_SERVER" not in env:
        raise RuntimeError(f"{SCRIPT.name} start printed no environment: {out!r}")
    changed = any(os.environ.get(name) != value for name, value in env.items())
    os.environ.update(env)
    if changed:
        _reinitialise_portaudio()
    return AudioDevices(env=env, started_here="started" in out.splitlines()[0])


def stop_audio_devices() -> None:
    _script("stop")


@pytest.fixture(scope="session")
def audio_devices():
    """Session fixture: the virtual speaker and mic; stopped at the end if this session started them."""
    devices = start_audio_devices()
    try:
        yield devices
    finally:
        if devices.started_here:
            stop_audio_devices()


@contextlib.contextmanager
def private_audio_devices(folder: str | os.PathLike):
    """A daemon of one's own in `folder`, for tests that unload its modules or kill it: the shared one (other test
    runs may use it) is never touched. This process points at the private daemon until the block ends."""
    saved = {name: os.environ.get(name) for name in CLIENT_ENV}
    os.environ["VA_PULSE_DIR"] = str(folder)
    try:
        yield start_audio_devices()
    finally:
        stop_audio_devices()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reinitialise_portaudio()


def pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], capture_output=True, text=True, check=True, timeout=10).stdout


def module_id(name: str, argument_contains: str = "") -> int:
    """Index of the first loaded module `name` whose argument contains `argument_contains`."""
    for line in pactl("list", "short", "modules").splitlines():
        fields = line.split("\t")
        if fields[1] == name and argument_contains in (fields[2] if len(fields) > 2 else ""):
            return int(fields[0])
    raise LookupError(f"module {name} ({argument_contains!r}) not loaded")


def _stream_of_module(module: int) -> str:
    """The sink input (playback stream) a module owns, from the long listing (the short one does not say)."""
    for _ in range(50):
        for block in pactl("list", "sink-inputs").split("Sink Input #")[1:]:
            if f"Owner Module: {module}\n" in block:
                return block.split("\n", 1)[0].strip()
        time.sleep(0.02)
    raise LookupError(f"module {module} has no playback stream")


@contextlib.contextmanager
def speaker_echo(latency_msec: int = 30, gain_db: float = 0.0):
    """A laptop's echo on the virtual devices: what the speaker plays comes back into the microphone, `latency_msec`
    later (module-loopback's buffering) and `gain_db` louder or softer, until the block ends."""
    index = int(pactl("load-module", "module-loopback", f"source={SPEAKER_MONITOR}", f"sink={MIC_FEED_SINK}",
                      f"latency_msec={latency_msec}", "source_dont_move=true", "sink_dont_move=true").strip())
    try:
        pactl("set-sink-input-volume", _stream_of_module(index), f"{gain_db:g}dB")
        yield
    finally:
        pactl("unload-module", str(index))


# --- recording the speaker --------------------------------------------------------------------------------


class Recording:
    """Records a PulseAudio source (by default speaker.monitor) into memory. Made by `record_speaker`.

    Every chunk parec delivers is timestamped; since delivery can only be late, the earliest
    (arrival - samples so far / rate) over all chunks is the best estimate of when sample 0 was rendered.
    """

    def __init__(self, device: str, rate: int, seconds: float | None, latency_msec: int) -> None:
        self.rate = rate
        self.device = device
        self._limit = None if seconds is None else round(seconds * rate)
        self._chunks: list[np.ndarray] = []
        self._received = 0
        self._offset: float | None = None       # min(arrival - received/rate)
        self.arrivals: list[tuple[float, int]] = []   # (monotonic arrival, samples received so far)
        self.first_chunk_at: float | None = None
        self._first = threading.Event()
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            ["parec", f"--device={device}", "--raw", "--format=float32le", f"--rate={rate}", "--channels=1",
             f"--latency-msec={latency_msec}", "--client-name=tests-recorder"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._thread = threading.Thread(target=self._read, daemon=True, name=f"record-{device}")
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        rest = b""
        while True:
            data = os.read(fd, 1 << 16)
            now = time.monotonic()
            if not data:
                break
            data = rest + data
            usable = len(data) - len(data) % 4
            rest = data[usable:]
            chunk = np.frombuffer(data[:usable], dtype="<f4")
            if self._limit is not None:
                chunk = chunk[: max(0, self._limit - self._received)]
            if not len(chunk):
                if self._limit is not None and self._received >= self._limit:
                    self.process.terminate()
                continue
            with self._lock:
                self._chunks.append(chunk)
                self._received += len(chunk)
                self.arrivals.append((now, self._received))
                offset = now - self._received / self.rate
                if self._offset is None or offset < self._offset:
                    self._offset = offset
                if self.first_chunk_at is None:
                    self.first_chunk_at = now
                    self._first.set()

    @property
    def started_at(self) -> float:
        """Monotonic time sample 0 was rendered into the sink (refines as data comes in; waits for data)."""
        if not self._first.wait(5):
            raise TimeoutError(f"no audio from {self.device}")
        with self._lock:
            assert self._offset is not None
            return self._offset

    def time_of(self, index: int) -> float:
        return self.started_at + index / self.rate

    def arrival_of(self, index: int) -> float:
        """Monotonic time the chunk holding sample `index` reached this process (>= time_of(index))."""
        with self._lock:
            for arrived, received in self.arrivals:
                if received > index:
                    return arrived
        raise IndexError(index)

    def index_at(self, t: float) -> int:
        return round((t - self.started_at) * self.rate)

    @property
    def received(self) -> int:
        return self._received

    def snapshot(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)

    def wait(self, timeout: float | None = None) -> np.ndarray:
        """With `seconds`: wait until that much is recorded, then return it."""
        self._thread.join(timeout)
        return self.stop()

    def stop(self) -> np.ndarray:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(5)
        self._thread.join(5)
        return self.snapshot()

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def record_speaker(seconds: float | None = None, *, rate: int = 24000, device: str = SPEAKER_MONITOR,
                   latency_msec: int = 10, wait_started: bool = True) -> Recording:
    """Record what the speaker plays (float32 mono), for `seconds` or until `.stop()`.

    With `wait_started`, returns once the first audio arrived, so nothing played after the call is missed.
    """
    recording = Recording(device, rate, seconds, latency_msec)
    if wait_started:
        recording.started_at  # noqa: B018 - waits for the first chunk
    return recording


# --- feeding the microphone -------------------------------------------------------------------------------


def _to_mono_float32(audio) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1, dtype=np.float32)
    return np.ascontiguousarray(audio)


def _locate(needle: np.ndarray, haystack: np.ndarray) -> tuple[int, float]:
    """Index in `haystack` where `needle` fits best (FFT cross-correlation) and the normalised peak (0..1)."""
    n = len(haystack) + len(needle)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size)), size)[: len(haystack)]
    corr[len(haystack) - len(needle) + 1:] = 0      # the needle must fit entirely
    index = int(np.argmax(corr))
    window = haystack[index:index + len(needle)]
    norm = float(np.sqrt(np.dot(needle, needle) * np.dot(window, window))) or 1.0
    return index, float(corr[index]) / norm


class MicFeed:
    """Audio playing into `mic_feed` (heard by the app on the `mic` source). Made by `play_into_mic`.

    `started_at` is exact to a sample or so: a recorder on `mic_feed.monitor`, started before the feed, is
    searched (cross-correlation) for the fed audio, and the recorder's clock says when it was mixed in. That
    needs the audio's first sound to have played, so `started_at` blocks until the feed has finished
    (`wait()`); `stream_started_at` (pacat's "Stream started", known at once) is ~10 ms late.
    """

    def __init__(self, samples: np.ndarray, rate: int, latency_msec: int, sink: str = MIC_FEED_SINK) -> None:
        self.rate = rate
        self.samples = samples
        self.stream_started_at: float | None = None
        self._started = threading.Event()
        self._stderr: list[str] = []
        self._started_at: float | None = None
        self._monitor = record_speaker(rate=rate, device=f"{sink}.monitor", latency_msec=latency_msec)
        self.process = subprocess.Popen(
            ["pacat", "--playback", "-v", f"--device={sink}", "--raw", "--format=float32le",
             f"--rate={rate}", "--channels=1", f"--latency-msec={latency_msec}", "--client-name=tests-mic-feed"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        threading.Thread(target=self._watch_stderr, daemon=True, name="mic-feed-stderr").start()
        threading.Thread(target=self._write, daemon=True, name="mic-feed-writer").start()

    def _watch_stderr(self) -> None:
        assert self.process.stderr is not None
        for raw in self.process.stderr:
            line = raw.decode(errors="replace")
            if "Stream started" in line and self.stream_started_at is None:
                self.stream_started_at = time.monotonic()
                self._started.set()
            self._stderr.append(line)

    def _write(self) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(self.samples.tobytes())
            self.process.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass   # stopped early

    def wait_stream_started(self, timeout: float = 5.0) -> float:
        if not self._started.wait(timeout):
            raise TimeoutError(f"pacat did not start playing: {''.join(self._stderr)}")
        assert self.stream_started_at is not None
        return self.stream_started_at

    def wait(self, timeout: float | None = None) -> None:
        """Block until every sample has been played into the sink (pacat drains, then exits)."""
        if timeout is None:
            timeout = len(self.samples) / self.rate + 10
        code = self.process.wait(timeout)
        if code != 0:
            raise RuntimeError(f"pacat exited with {code}: {''.join(self._stderr)}")
        time.sleep(0.05)          # let the monitor deliver the tail
        self._monitor.stop()

    def stop(self) -> None:
        """Cut the feed now (the rest is not played)."""
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(5)
        self._monitor.stop()

    @property
    def started_at(self) -> float:
        """Monotonic time the first fed sample was mixed into mic_feed (waits for the feed to finish)."""
        if self._started_at is None:
            self.wait()
            self._started_at = self._locate_start()
        return self._started_at

    def _locate_start(self) -> float:
        loud = np.flatnonzero(np.abs(self.samples) > 1e-3)
        recorded = self._monitor.snapshot()
        if len(loud) and len(recorded) >= len(self.samples):
            first = int(loud[0])
            needle = self.samples[first:first + self.rate // 2].astype(np.float64)
            index, score = _locate(needle, recorded.astype(np.float64))
            if score > 0.8:
                return self._monitor.time_of(index - first)
        # Silent audio or no match: pacat's notice, corrected by the 10 ms it measured late (keep-alive period).
        return self.wait_stream_started() - 0.010

    def time_of(self, index: int) -> float:
        """Monotonic time sample `index` of the fed audio was mixed into mic_feed."""
        return self.started_at + index / self.rate

    @property
    def ends_at(self) -> float:
        return self.time_of(len(self.samples))

    def __enter__(self) -> MicFeed:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def play_into_mic(audio, rate: int | None = None, *, latency_msec: int = 10, sink: str = MIC_FEED_SINK) -> MicFeed:
    """Start playing `audio` (a path to a sound file, or a float array at `rate`) into the virtual mic
    (or, with `sink`, into another sink: `SPEAKER_SINK` plays what the assistant's speaker would).

    Returns at once; the sink paces the feed in real time. Multi-channel audio is mixed to mono.
    """
    if isinstance(audio, (str, os.PathLike)):
        import soundfile

        audio, rate = soundfile.read(str(audio), dtype="float32", always_2d=True)
    if rate is None:
        raise ValueError("rate is required for an array")
    return MicFeed(_to_mono_float32(audio), int(rate), latency_msec, sink)


def onset(audio: np.ndarray, threshold: float = 0.1) -> int | None:
    """Index of the first sample whose magnitude exceeds `threshold`, or None."""
    above = np.flatnonzero(np.abs(audio) > threshold)
    return int(above[0]) if len(above) else None
