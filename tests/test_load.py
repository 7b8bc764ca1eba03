"""The bench's load section: busy processes that always go away, its summary and goals; thread priorities."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.bench.load import _cpu_seconds, busy_processes, summarize_load
from assistant.bench.report import load_goals, load_lines
from assistant.config import PriorityConfig
from assistant.core import thread_priority
from assistant.core.thread_priority import PROCESS_NICE, Role, thread_nice
from assistant.core.worker_thread import EngineThread
from tests.util import REPO

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values and /proc are Linux's")


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (an orphan's parent here may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def _wait_gone(pid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_busy_processes_spin_at_normal_priority_and_are_reaped_when_the_block_ends():
    with busy_processes(2) as spinners:
        pids = [process.pid for process in spinners.processes]
        time.sleep(0.5)
        report = spinners.report()
        assert report["count"] == 2 and report["nice"] == [0, 0]
        assert all(_cpu_seconds(pid) > 0 for pid in pids)  # they burn CPU
    assert all(process.returncode is not None for process in spinners.processes)
    assert all(_gone(pid) for pid in pids)


def test_the_busy_processes_stop_when_the_block_fails():
    with pytest.raises(RuntimeError), busy_processes(2) as spinners:
        raise RuntimeError("the bench failed mid-run")
    assert all(process.returncode is not None and _gone(process.pid) for process in spinners.processes)


def test_the_busy_processes_stop_when_the_bench_is_cancelled():
    started: list[subprocess.Popen] = []

    async def section() -> None:
        with busy_processes(2) as spinners:
            started.extend(spinners.processes)
            await asyncio.sleep(60)

    async def main() -> None:
        task = asyncio.create_task(section())
        while len(started) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert all(process.returncode is not None and _gone(process.pid) for process in started)


def test_a_busy_process_whose_bench_was_killed_stops_by_itself():
    script = ("import time\nfrom assistant.bench.load import busy_processes\n"
              "with busy_processes(1) as spinners:\n    print(spinners.processes[0].pid, flush=True)\n"
              "    time.sleep(60)\n")
    bench = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO,
                             env=os.environ | {"PYTHONPATH": str(REPO)})
    assert bench.stdout is not None
    spinner = int(bench.stdout.readline())
    assert not _gone(spinner)
    bench.kill()  # SIGKILL: no finally runs
    bench.wait()
    assert _wait_gone(spinner), f"the orphaned spinner {spinner} kept running"


def _run(v2v_p50: float, barge_p95: float, lost: int | None, stall: float) -> dict:
    return {"barge_in_ms": {"p50": 40.0, "p95": barge_p95, "max": barge_p95, "n": 4}, "barge_in_missed": 0,
            "mic_frames_lost": lost, "mic_blocks": 1000, "loop_stall_ms": {"max": stall, "p99": 2.0},
            "voice_to_voice_ms": {"p50": v2v_p50, "p95": v2v_p50 * 1.2, "max": v2v_p50 * 1.3, "n": 5},
            "stutter": {"gaps_per_reply": 0.2, "p95_gap_ms": 80.0, "gaps_over_150_ms": 0, "replies": 5},
            "spinners": None}


def test_the_load_summary_sets_idle_beside_loaded_and_judges_the_goals():
    loaded = _run(900.0, 150.0, 3, 12.0) | {"spinners": {"count": 2, "nice": [0, 0], "core_share": [0.5, 0.6]}}
    load = summarize_load({"idle": _run(600.0, 40.0, 0, 8.0), "loaded": loaded})
    assert load["voice_to_voice_ratio"] == {"p50": 1.5, "p95": 1.5}
    goals = dict(load_goals(load))
    assert goals["under load: barge-in p95 150.0 ≤ 120 ms"] is False
    assert goals["under load: mic frames lost 3 = 0"] is False
    assert goals["under load: loop stall max 12.0 ≤ 20 ms"] is True
    assert goals["under load: voice-to-voice p50 1.5× the idle figure ≤ 1.5×"] is True
    lines = "\n".join(load_lines(load))
    assert "2 busy processes, nice [0, 0], each got 50 %, 60 % of a core" in lines
    assert "0 of 1000" in lines and "3 of 1000" in lines


def test_without_a_capture_device_lost_frames_are_not_measured_rather_than_zero():
    load = summarize_load({"idle": _run(600.0, 40.0, None, 8.0),
                           "loaded": _run(700.0, 60.0, None, 9.0) | {"spinners": {"count": 2, "nice": [0, 0],
                                                                                  "core_share": [0.5, 0.5]}}})
    assert dict(load_goals(load))["under load: mic frames lost None = 0"] is None
    assert "not measured" in "\n".join(load_lines(load))


@pytest.fixture
def priorities():
    """`priorities(audio, model, judge)`: configure them for the test; the defaults again afterwards."""
    yield lambda audio, model, judge=0: thread_priority.configure(PriorityConfig(audio_nice=audio, model_nice=model,
                                                                                judge_nice=judge))
    thread_priority.configure(PriorityConfig())


def _nice_of_engine_thread(engine: EngineThread) -> tuple[int, int]:
    """The engine thread's nice, and that of a thread it starts (as a model library starts its pool)."""

    def measure() -> tuple[int, int]:
        child: list[int] = []
        pool = threading.Thread(target=lambda: child.append(thread_nice()))
        pool.start()
        pool.join()
        return thread_nice(), child[0]

    async def run() -> tuple[int, int]:
        return await engine.run(measure)

    try:
        return asyncio.run(run())
    finally:
        engine.close()


def test_model_threads_and_the_threads_they_start_yield_to_the_audio_path(priorities):
    priorities(2, 7, 11)  # all lowered: permitted without privileges
    model, audio, judge = PROCESS_NICE + 7, PROCESS_NICE + 2, PROCESS_NICE + 11
    assert _nice_of_engine_thread(EngineThread("model", Role.MODEL)) == (model, model)
    assert _nice_of_engine_thread(EngineThread("judge", Role.JUDGE)) == (judge, judge)
    assert _nice_of_engine_thread(EngineThread("audio", Role.AUDIO)) == (audio, audio)
    assert _nice_of_engine_thread(EngineThread("other")) == (thread_nice(), thread_nice())  # its creator's


def test_the_real_engines_threads_take_their_roles(priorities, config):
    from assistant.core.types import FRAME_SAMPLES
    from assistant.engines.tts import load_piper
    from assistant.engines.vad import load_vad

    priorities(3, 9)
    vad, piper = load_vad(config), load_piper(config)

    async def use() -> None:
        await vad.process(np.zeros(FRAME_SAMPLES, dtype=np.float32), 0)
        _ = [chunk async for chunk in piper.synthesize("Hello.")]

    try:
        asyncio.run(use())
        nice = {thread.name: thread_nice(thread.native_id) for thread in threading.enumerate()
                if thread.native_id is not None}
        assert nice["vad_0"] == PROCESS_NICE + 3 and nice["tts-piper_0"] == PROCESS_NICE + 9
    finally:
        vad.close()
        piper.close()


def _native_threads() -> dict[int, int]:
    """Every thread of this process, native ones included (llama.cpp's): id → nice."""
    return {int(task.name): thread_nice(int(task.name)) for task in Path("/proc/self/task").iterdir()}


def test_the_end_of_turn_judges_and_the_llama_cpp_threads_they_start_take_the_judges_priority(priorities, config):
    from assistant.engines.turn_detector import load_turn_detector
    from assistant.engines.turn_words import WordsEndDetector

    priorities(3, 9, 12)
    before = _native_threads()
    detector = load_turn_detector(config)
    assert detector is not None

    async def use() -> tuple[WordsEndDetector, float, float]:
        words = WordsEndDetector(config)
        return words, await words.finished("what is the capital of france"), await detector.completion(
            np.zeros(16000, dtype=np.float32))

    async def close(words: WordsEndDetector) -> None:
        await words.close()

    words, finished, _ = asyncio.run(use())
    try:
        started = {tid: nice for tid, nice in _native_threads().items() if tid not in before}
        judge_threads = {thread.native_id for thread in threading.enumerate()
                         if thread.name.startswith(("turn_", "turn-words_"))}
        assert len(judge_threads) == 2 and judge_threads <= started.keys()
        assert len(started) > 2  # llama.cpp's own threads, started from the words cue's thread
        assert finished > 0.5 and set(started.values()) == {PROCESS_NICE + 12}
    finally:
        asyncio.run(close(words))
        detector.close()


def test_the_sound_devices_control_thread_is_on_the_audio_path(priorities):
    from assistant.audio.control_thread import ControlThread

    priorities(4, 8)
    control = ControlThread("mic-control")
    try:
        assert control.submit(thread_nice).result(timeout=5) == PROCESS_NICE + 4
    finally:
        control.close()


def test_a_raise_that_is_not_permitted_leaves_the_thread_as_it_was_and_says_so_once(priorities, monkeypatch,
                                                                                     caplog):
    def refuse(which: int, who: int, value: int) -> None:
        raise PermissionError(13, "Permission denied")

    priorities(-5, 5)
    wanted = PROCESS_NICE - 5
    monkeypatch.setattr(os, "setpriority", refuse)
    monkeypatch.setattr(thread_priority, "_refused", set())
    with caplog.at_level(logging.INFO, logger="assistant.core.thread_priority"):
        assert thread_priority.apply(Role.AUDIO) is False
        assert thread_priority.apply(Role.AUDIO) is False
    assert [record.getMessage() for record in caplog.records] == [
        f"the audio threads keep their priority (nice {wanted} not permitted: Permission denied)"]
    assert thread_priority.apply(None) is False
