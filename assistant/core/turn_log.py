"""The per-turn JSONL log."""

from __future__ import annotations

import json
import os
from pathlib import Path

from assistant.core.records import TurnRecord
from assistant.core.worker_thread import EngineThread


class TurnLog:
    """Appends one JSON line per turn as it ends, fsynced (on its own thread), so a crash loses no finished turn.

    Each record goes out in one append-mode write(), so a killed process leaves whole lines only; the file is
    never truncated. A line cut short some other way (power loss mid-write) is left on a line of its own, and
    readers skip it: every line that ends in a newline and parses is a complete turn.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path).expanduser() if path else None
        self._thread = EngineThread("turn-log")

    async def append(self, record: TurnRecord) -> None:
        if self.path:
            await self._thread.run(self._write, json.dumps(record.to_json(), ensure_ascii=False) + "\n")

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
