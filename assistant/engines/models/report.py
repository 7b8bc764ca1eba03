"""How the model commands talk: progress on stdout, problems on stderr, sizes in binary units."""

from __future__ import annotations

import sys


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.2f} GiB"


def say(line: str) -> None:
    print(line, flush=True)


def warn(line: str) -> None:
    sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
