"""Per-turn latency records on the input timeline, the JSONL log, and the event-loop stall monitor."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.engine_thread import EngineThread

# Stages of a turn, in order; each is a time in ms on the input timeline (0 = first microphone sample).
STAGES = ("speech_start", "speech_end", "end_of_turn", "stt_final", "llm_first_token", "first_chunk",
          "first_tts_chunk", "first_audio")


@dataclass
class TurnRecord:
    turn: int
    transcript: str = ""
    reply: str = ""  # for an interrupted turn: only what was played
    outcome: str = "pending"  # replied | interrupted | failed | no speech
    interrupted: bool = False
    notice: str = ""
    times_ms: dict[str, float] = field(default_factory=dict)
    barge_in_ms: float | None = None

    @property
    def voice_to_voice_ms(self) -> float | None:
        if "first_audio" in self.times_ms and "speech_end" in self.times_ms:
            return self.times_ms["first_audio"] - self.times_ms["speech_end"]
        return None

    def to_json(self) -> dict:
        record = asdict(self)
        record["voice_to_voice_ms"] = _round(self.voice_to_voice_ms)
        record["barge_in_ms"] = _round(self.barge_in_ms)
        record["times_ms"] = {k: _round(v) for k, v in self.times_ms.items()}
        return record


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class TurnLog:
    """Appends one JSON line per turn as it ends, fsynced (on its own thread), so a crash loses no finished turn.

    Each record goes out in one append-mode write(), so a killed process leaves whole lines only; the file is
    never truncated. A line cut short some other way (power loss mid-write) is left on a line of its own, and
    readers skip it: every line that ends in a newline and parses is a complete turn.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path).expanduser() if path else None
        self._thread = EngineThread("turn-log")

    async def append(self, record: dict) -> None:
        if self.path:
            await self._thread.run(self._write, json.dumps(record, ensure_ascii=False) + "\n")

    def _write(self, line: str) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = line.encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a torn last line must not swallow this record
                data = b"\n" + data
            while data:  # one write() in practice; the loop only covers a short write
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        self._thread.close()


class LoopMonitor:
    """Measures event-loop stalls: a ticker that should wake every `interval` records how late it woke."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.lateness: list[float] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="loop-monitor")

    async def _tick(self) -> None:
        while True:
            expected = time.monotonic() + self.interval
            await asyncio.sleep(self.interval)
            self.lateness.append(max(0.0, time.monotonic() - expected))

    def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def summary_ms(self) -> dict[str, float]:
        if not self.lateness:
            return {"max": 0.0, "p99": 0.0}
        late = np.array(self.lateness) * 1000
        return {"max": round(float(late.max()), 1), "p99": round(float(np.percentile(late, 99)), 1)}
