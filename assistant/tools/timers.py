"""Timers and alarms: what is set, when each is due, and the state file that keeps them across a restart.

All times are epoch seconds from an injected clock, so tests move time instead of sleeping. The file is JSON,
written atomically (a temporary file beside it, then `os.replace`), off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from assistant.core.private_files import make_private_dir

log = logging.getLogger(__name__)

Kind = Literal["timer", "alarm"]


@dataclass(frozen=True)
class Timer:
    label: str
    kind: Kind
    due: float  # epoch seconds
    length_s: float | None = None  # a timer's length as set (an alarm has none)


class TimerStore:
    def __init__(self, path: Path | None, now: Callable[[], float]) -> None:
        self.path = path  # None: kept in memory only
        self._now = now
        self._timers: list[Timer] = []
        self._changed = asyncio.Event()
        self._writing = asyncio.Lock()

    # ---- the set

    @property
    def timers(self) -> list[Timer]:
        """Soonest first."""
        return sorted(self._timers, key=lambda timer: timer.due)

    def add(self, kind: Kind, label: str, due: float, length_s: float | None = None) -> Timer:
        """A new timer; a label already in use gets a number ("tea 2")."""
        base = label.strip() or kind
        taken = {timer.label for timer in self._timers}
        label, number = base, 1
        while label in taken:
            number += 1
            label = f"{base} {number}"
        timer = Timer(label, kind, due, length_s)
        self._timers.append(timer)
        self._changed.set()
        return timer

    def remove(self, timer: Timer) -> None:
        self._timers.remove(timer)
        self._changed.set()

    def take_due(self) -> list[Timer]:
        """Remove and return every timer whose time has come, soonest first."""
        now = self._now()
        due = [timer for timer in self.timers if timer.due <= now]
        for timer in due:
            self._timers.remove(timer)
        return due

    async def until_due(self) -> AsyncIterator[Timer]:
        """Each timer as it becomes due (those already past first), saved as gone once taken; until cancelled."""
        while True:
            due = self.take_due()
            if due:
                try:
                    await self.save()
                except OSError as error:  # it still goes off; only a restart could announce it again
                    log.warning("could not save the timers to %s: %s", self.path, error)
                for timer in due:
                    yield timer
                continue
            self._changed.clear()
            wait = self.timers[0].due - self._now() if self._timers else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)

    # ---- the file

    def load(self) -> None:
        """Read the state file, if there is one (blocking: call it off the loop). A broken file is set aside
        (renamed *.broken) with a warning, so the assistant still starts."""
        if self.path is None or not self.path.exists():
            return
        try:
            entries = json.loads(self.path.read_text(encoding="utf-8"))["timers"]
            self._timers = [Timer(str(e["label"]), e["kind"], float(e["due"]),
                                  None if e.get("length_s") is None else float(e["length_s"])) for e in entries]
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("timers file %s is unreadable (%s): set aside as %s.broken", self.path, error, self.path.name)
            with contextlib.suppress(OSError):
                os.replace(self.path, self.path.with_name(self.path.name + ".broken"))

    async def save(self) -> None:
        if self.path is None:
            return
        document = json.dumps({"timers": [asdict(timer) for timer in self.timers]}, indent=1)
        async with self._writing:  # one write at a time, so the newest state is the one left on disk
            await asyncio.to_thread(_write_atomically, self.path, document)


def _write_atomically(path: Path, text: str) -> None:
    make_private_dir(path.parent)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
