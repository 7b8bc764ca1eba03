"""The per-turn JSONL log."""

from __future__ import annotations

import json
import os
from pathlib import Path

from assistant.core.private_files import open_private
from assistant.core.records import TurnRecord
from assistant.core.worker_thread import EngineThread


def rotated_out(path: Path) -> Path:
    """Where the part of the log that `TurnLog` moved aside is kept."""
    return path.with_name(path.name + ".1")


class TurnLog:
    """Appends one JSON line per turn as it ends, fsynced (on its own thread), so a crash loses no finished turn.

    Each record goes out in one append-mode write(), so a killed process leaves whole lines only; the file is
    never truncated. A line cut short some other way (power loss mid-write) is left on a line of its own, and
    readers skip it: every line that ends in a newline and parses is a complete turn.

    The file is the user's alone (0600, its folder 0700 if new). A record that would take it past `max_bytes` first
    moves it aside to `NAME.1` (replacing the one before), so the log keeps between `max_bytes` and twice that.
    """

    def __init__(self, path: str | Path | None, max_bytes: int | None = None) -> None:
        self.path = Path(path).expanduser() if path else None
        self.max_bytes = max_bytes
        self._thread = EngineThread("turn-log")


    async def append(self, record: TurnRecord) -> None:
        if self.path:
            await self._thread.run(self._write, json.dumps(record.to_json(), ensure_ascii=False) + "\n")

    def _write(self, line: str) -> None:
        assert self.path is not None
        data = line.encode("utf-8")
        if self.max_bytes is not None and self._size() > 0 and self._size() + len(data) > self.max_bytes:
            os.replace(self.path, rotated_out(self.path))  # what was written stays whole, in the previous file
        fd = open_private(self.path, os.O_RDWR | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a torn last line must not swallow this record
                data = b"\n" + data
            while data:  # one write() in practice; the loop only covers a short write
                data = data[os.write(fd, data):]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _size(self) -> int:
        assert self.path is not None
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        self._thread.close()
