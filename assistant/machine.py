"""What machine this is, in the words people know it by (doctor, bench, the TTS measurement cache's key)."""

from __future__ import annotations

import platform


def cpu_model() -> str:
    try:  # Linux names it here; platform.processor() is often empty there
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown model"
