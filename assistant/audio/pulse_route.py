"""Which PulseAudio (or pipewire-pulse) source this process's capture stream is really on.

When a microphone disappears, PulseAudio does not end the stream: it moves it to the default source, which on a
machine with no other microphone is a speaker's monitor, so the assistant would hear itself. PortAudio (through
ALSA's pulse plugin) reports nothing, so the only way to see the move is to ask the server: `pactl -f json`.
Without pactl (or on a server that is not PulseAudio), `capture_source` returns None and nothing is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

PACTL_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Source:
    name: str
    description: str
    is_monitor: bool  # a sink's monitor: what that sink plays


async def _pactl_json(*args: str) -> list[dict] | None:
    pactl = shutil.which("pactl")
    if pactl is None:
        return None
    try:
        process = await asyncio.create_subprocess_exec(pactl, "-f", "json", *args, stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.DEVNULL,
                                                       stdin=asyncio.subprocess.DEVNULL)
    except OSError:
        return None
    try:
        async with asyncio.timeout(PACTL_TIMEOUT_S):  # not wait_for, which can lose a cancellation on 3.11
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    try:
        parsed = json.loads(out) if process.returncode == 0 else None
    except ValueError:  # pactl older than 15 has no JSON output
        return None
    return parsed if isinstance(parsed, list) else None


class SourceWatch:
    """`pactl subscribe` read on its own thread: `changed` is set (on the loop) per change to a source or a
    capture stream, and once more when the server goes away (`alive` is then False).

    Waiting on events instead of polling costs nothing while idle (each `pactl` run costs ~10 ms of CPU).
    """

    def __init__(self, pactl: str) -> None:
        self.changed = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._process = subprocess.Popen([pactl, "subscribe"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         stdin=subprocess.DEVNULL)

        def notify() -> None:
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now (pactl outlived the session)
                loop.call_soon_threadsafe(self.changed.set)

        def read() -> None:
            assert self._process.stdout is not None
            for line in self._process.stdout:  # "Event 'change' on source-output #7", "… on source #3"
                if b" on source" in line:
                    notify()
            self._process.wait()  # reaped here, so closing never blocks the loop
            notify()

        threading.Thread(target=read, name="pactl-subscribe", daemon=True).start()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        if self.alive:
            self._process.kill()


def watch_sources() -> SourceWatch | None:
    """A running `SourceWatch`, or None without pactl."""
    pactl = shutil.which("pactl")
    try:
        return SourceWatch(pactl) if pactl else None
    except OSError:
        return None


async def capture_source(pid: int | None = None) -> Source | None:
    """The source of this process's newest capture stream, or None if that cannot be told."""
    pid = os.getpid() if pid is None else pid
    outputs = await _pactl_json("list", "source-outputs")
    mine = [o for o in outputs or () if o.get("properties", {}).get("application.process.id") == str(pid)]
    if not mine:
        return None
    index = max(mine, key=lambda o: o.get("index", -1)).get("source")
    for source in await _pactl_json("list", "sources") or ():
        if source.get("index") == index:
            name = source.get("name", "?")
            monitor = source.get("properties", {}).get("device.class") == "monitor" or name.endswith(".monitor")
            return Source(name, source.get("description", name), monitor)
    return None
