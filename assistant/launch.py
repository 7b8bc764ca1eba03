"""How long ago this process was launched: the launch → listening time that `listen` and `converse --json` report."""

from __future__ import annotations

import os
import time

_IMPORTED_AT = time.monotonic()  # the fallback start: the CLI imports this module first thing


def launched_at() -> float:
    """The monotonic time this process started: from the kernel on Linux (10 ms steps), else when the CLI began."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22: start time since boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - age
    except (OSError, ValueError, IndexError, AttributeError):
        return _IMPORTED_AT
