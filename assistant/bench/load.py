"""The benchmark's load section: the bench scenario (questions and barge-ins) idle, then again while busy processes
eat the CPU, side by side. The founding complaint: "latency creeps up, interruptions stop working" when something
else runs on the laptop.

The load is two pure-CPU spinners at normal priority (nice 0), one per core of a two-core laptop, in the bench's
own scheduling group (they compete thread by thread, as without autogroup). They are started and always stopped
here; an orphaned one (the bench killed) stops by itself. Mic frames lost are counted on a real capture device read
beside the run (the bench's own microphone is a file, which never loses input); without a device they are not
measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assistant.bench.fixtures import QuestionInput
from assistant.bench.runner import BenchOptions, bench_engine
from assistant.config import Config
from assistant.core.ports import Engines

SPINNERS = 2
PROBE_OPEN_S = 10.0  # a capture device that delivers nothing this long after opening is measured as it goes
# A spinner: normal priority whatever thread started it (lowering is always allowed), and it stops once orphaned
# (its parent is given, not read: the parent may already be gone by the time it starts).
SPIN = """
import os, sys
os.setpriority(os.PRIO_PROCESS, 0, 0)
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(100_000):
        pass
"""


@dataclass
class Spinners:
    processes: list[subprocess.Popen] = field(default_factory=list)
    started: float = 0.0

    def report(self) -> dict:
        """Their nice values and the share of a core each got (read before they are stopped)."""
        wall = time.monotonic() - self.started
        return {"count": len(self.processes), "nice": [os.getpriority(os.PRIO_PROCESS, p.pid) for p in self.processes],
                "core_share": [_cpu_seconds(p.pid) / wall if wall > 0 else 0.0 for p in self.processes]}


@contextlib.contextmanager
def busy_processes(count: int = SPINNERS) -> Iterator[Spinners]:
    """`count` CPU spinners for the length of the block; killed and reaped however the block ends."""
    spinners = Spinners(started=time.monotonic())
    try:
        for _ in range(count):
            spinners.processes.append(subprocess.Popen([sys.executable, "-c", SPIN, str(os.getpid())],
                                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        yield spinners
    finally:
        for process in spinners.processes:
            process.kill()
        for process in spinners.processes:
            process.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc (0.0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CaptureProbe:
    """A real capture device read beside a run: the blocks it lost (PortAudio overflows, or dropped because the
    event loop did not read them in time). `lost` is None when there is no capture device to read."""

    def __init__(self) -> None:
        self.lost: int | None = None
        self.blocks = 0
        self.why = ""
        self.ready = asyncio.Event()  # the first block came, or there is no device

    async def run(self) -> None:
        from assistant.audio.microphone import DeviceMicrophone
        from assistant.errors import UserError

        try:
            microphone = DeviceMicrophone(notify=lambda message: None)
            async for _frame in microphone.frames():
                self.lost = microphone.overflows + microphone.dropped
                self.blocks = microphone.blocks
                self.ready.set()
        except (UserError, OSError) as error:  # no device, or no PortAudio: not measured
            self.why = str(error).splitlines()[0] if str(error) else type(error).__name__
        finally:
            self.ready.set()


@contextlib.asynccontextmanager
async def capture_probe() -> AsyncIterator[CaptureProbe]:
    probe = CaptureProbe()
    task = asyncio.get_running_loop().create_task(probe.run(), name="capture-probe")
    try:
        # The device opens (its libraries load) before the measured run, so that run's loop stall is its own.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(probe.ready.wait(), PROBE_OPEN_S)
        yield probe
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def bench_load(config: Config, engines: Engines, questions: list[QuestionInput], options: BenchOptions,
                     work: Path, progress: Callable[[str], None]) -> dict:
    """The bench scenario idle, then under load; each with a capture device read beside it."""
    runs: dict[str, dict] = {}
    for state in ("idle", "loaded"):
        progress(f"  load section: {state}" + (f" ({SPINNERS} busy processes at normal priority)"
                                                if state == "loaded" else ""))
        spinning = busy_processes() if state == "loaded" else contextlib.nullcontext(None)
        with spinning as spinners:
            async with capture_probe() as probe:
                measured = await bench_engine(config, engines, questions, dataclasses.replace(options, baseline=False),
                                              work, progress)
            measured["spinners"] = spinners.report() if spinners else None
        measured["mic_frames_lost"] = probe.lost
        measured["mic_blocks"] = probe.blocks
        if probe.lost is None:
            progress(f"  mic frames lost: not measured ({probe.why or 'no capture device'})")
        runs[state] = measured
    return summarize_load(runs)


def summarize_load(runs: dict[str, dict]) -> dict:
    """Per state (idle, loaded): the figures the load goals judge; and voice-to-voice under load ÷ idle."""
    rows = {state: {"barge_in_ms": run["barge_in_ms"], "barge_in_missed": run["barge_in_missed"],
                    "mic_frames_lost": run["mic_frames_lost"], "mic_blocks": run["mic_blocks"],
                    "loop_stall_ms": run["loop_stall_ms"], "voice_to_voice_ms": run["voice_to_voice_ms"],
                    "stutter": run["stutter"], "spinners": run["spinners"]}
            for state, run in runs.items()}

    def ratio(key: str) -> float | None:
        idle, loaded = rows["idle"]["voice_to_voice_ms"][key], rows["loaded"]["voice_to_voice_ms"][key]
        return round(loaded / idle, 2) if idle and loaded else None

    return rows | {"voice_to_voice_ratio": {"p50": ratio("p50"), "p95": ratio("p95")}}
