"""Long sessions: hundreds of turns (typed, spoken, cut off) leave no tasks, threads, file handles or memory behind.

Resources are sampled whenever the conversation is idle between turns. The first samples are the warm-up
(allocators and caches fill up); after it, every count must be back to where it was, and RSS may grow by 10 % at
most.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from assistant.bench.fixtures import load_manifest
from assistant.bench.spans import place
from assistant.core.events import State
from assistant.core.ports import Engines
from assistant.core.types import SAMPLE_RATE
from assistant.engines.loading import load_engines
from assistant.engines.vad import load_vad
from assistant.frontends.duplex import run_duplex
from tests.scripted import ScriptedLlm, ScriptedStt, ScriptedTts

WARM_UP = 20
LONG_REPLY = ["This reply goes on for a while, ", "long enough to be cut off by the next message. " * 2]


@dataclass(frozen=True)
class Snapshot:
    tasks: int
    threads: int
    fds: int
    rss_mib: float


def snapshot() -> Snapshot:
    rss_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return Snapshot(len(asyncio.all_tasks()), threading.active_count(), len(os.listdir("/proc/self/fd")),
                    rss_pages * os.sysconf("SC_PAGE_SIZE") / 2**20)


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)


def assert_steady(samples: list[Snapshot], warm_up: int) -> None:
    settled = samples[warm_up:]
    assert len(settled) >= 5, "too few idle samples"
    base = settled[0]
    for index, sample in enumerate(settled):
        assert (sample.tasks, sample.threads, sample.fds) == (base.tasks, base.threads, base.fds), (index, sample,
                                                                                                 base)
    growth = settled[-1].rss_mib / base.rss_mib - 1
    print(f"soak: {len(samples)} idle samples; after warm-up tasks {base.tasks}, threads {base.threads}, "
          f"fds {base.fds}; RSS {samples[0].rss_mib:.0f} (first) {base.rss_mib:.0f} → {settled[-1].rss_mib:.0f} MiB "
          f"({growth:+.1%})")
    assert growth <= 0.10, f"RSS grew {growth:.1%}: {base.rss_mib:.0f} → {settled[-1].rss_mib:.0f} MiB"


def test_two_hundred_turns_typed_and_cut_off_leave_nothing_behind(config, tmp_path):
    turns = 200
    # the microphone hears a quiet room all along (the real VAD runs on every frame); turns are typed
    noise = np.random.default_rng(1).normal(0, 1e-3, 150 * SAMPLE_RATE).astype(np.float32)
    soundfile.write(str(tmp_path / "in.wav"), noise, SAMPLE_RATE)
    budget = 600  # small, so the history is trimmed many times over
    cfg = dataclasses.replace(config, conversation=dataclasses.replace(
        config.conversation, history_budget_chars=budget))
    def question(n: int) -> str:
        return f"Question number {n}, with a few more words to fill the history."

    # by the question, not by how many the history still holds: it is trimmed many times over
    scripts = {question(n): LONG_REPLY if n % 4 == 0 else [f"Answer {n}."] for n in range(turns)}
    engines = Engines(load_vad(cfg), ScriptedStt(), ScriptedLlm(scripts), ScriptedTts(delay=0.0))
    samples: list[Snapshot] = []
    sizes: list[int] = []
    log = tmp_path / "turns.jsonl"

    async def soak(conversation) -> None:
        await until(lambda: conversation.microphone.started_at is not None)
        for n in range(turns):
            conversation.submit_text(question(n))
            if n % 4 == 0:  # the next message cuts this reply off mid-sentence
                await until(lambda: conversation.state == State.SPEAKING)
                await asyncio.sleep(0.1)
                continue
            await until(lambda: conversation.idle)
            # the turn's log line is written (and its file closed) on the log's own thread: wait for the line, then
            # for the thread to have nothing left to do, or a busy disk's fsync shows up as an open file
            await until(lambda lines=n + 1: log.read_text().count("\n") == lines)
            await conversation._turn_log._thread.run(lambda: None)
            samples.append(snapshot())
            sizes.append(conversation.history.size)

    async def run():
        try:
            return await run_duplex(cfg, tmp_path / "in.wav", None, log, engines=engines, control=soak,
                                    max_turns=turns)
        finally:
            engines.vad.close()

    result = asyncio.run(run())
    assert len(result.turns) == turns
    assert sum(t.interrupted for t in result.turns) == turns // 4
    assert all(t.outcome in ("replied", "interrupted") for t in result.turns)
    assert (tmp_path / "turns.jsonl").read_text().count("\n") == turns
    assert_steady(samples, WARM_UP)
    assert max(sizes) <= budget


def test_twenty_spoken_turns_with_the_real_engines_leave_nothing_behind(config, tmp_path):
    # The bench's spoken questions (jfk left out: it pauses), 6.5 s apart (a 10-token reply ends well before the
    # next); every fifth comes 3.6 s after the one before, so it cuts that reply off.
    questions = load_manifest()["questions"][:-1]
    starts = np.cumsum([0.5] + [3.6 if k % 5 == 4 else 6.5 for k in range(1, 20)])
    spoken = [(float(at), questions[k % len(questions)].samples()) for k, at in enumerate(starts)]
    place(spoken, total_s=spoken[-1][0] + 6.0, path=tmp_path / "in.wav")
    cfg = dataclasses.replace(
        config, llm=dataclasses.replace(config.llm, backend="embedded", max_tokens=10),
        tts=dataclasses.replace(config.tts, engine="piper"))
    samples: list[Snapshot] = []

    async def watch(conversation) -> None:
        sampled = 0  # turns finished when the last sample was taken: one sample per idle stretch after a turn
        while True:
            await asyncio.sleep(0.1)
            finished = len(conversation.records)
            if finished > sampled and conversation.idle:
                await asyncio.sleep(0.05)  # the turn's log line is written on its own thread
                if conversation.idle:
                    samples.append(snapshot())
                    sampled = finished

    async def run():
        gc.unfreeze()
        engines = await load_engines(cfg)
        assert gc.get_freeze_count() > 10_000  # the loaded engines are out of the collector's sight
        try:
            return await run_duplex(cfg, tmp_path / "in.wav", None, tmp_path / "turns.jsonl", engines=engines,
                                    control=watch)
        finally:
            await engines.close()

    result = asyncio.run(run())
    assert gc.get_freeze_count() == 0  # closed: what was frozen at loading is within the collector's reach again
    answered = [t for t in result.turns if t.outcome in ("replied", "interrupted")]
    assert len(answered) >= 20, [t.transcript for t in result.turns]
    assert sum(t.interrupted for t in answered) >= 2
    assert_steady(samples, warm_up=5)  # the engines' first runs allocate their arenas
