"""Tests are self-contained: a file opened from a folder next to the checkout (`../shared/…`) fails the test.

A fresh clone has nothing beside it, so such a read passes here and breaks for everyone else. Python's audit hook
sees every `open` made from Python in this process (C libraries and subprocesses are not seen; their inputs come
from paths that Python code built, and those are checked statically by test_repo_guard).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_OUTSIDE_READS: list[str] = []
# The interpreter's own files may sit anywhere (a venv next to the checkout is fine).
_ALLOWED = tuple({os.path.abspath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def leaves_repo(path: str | os.PathLike) -> bool:
    """Whether `path` (as given, symlinks not followed) is in a folder beside the checkout rather than in it."""
    full = os.path.abspath(os.fsdecode(path)) + os.sep
    return (full.startswith(str(REPO.parent) + os.sep) and not full.startswith(str(REPO) + os.sep)
            and not full.startswith(_ALLOWED))


def _audit(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], str | bytes | os.PathLike) and leaves_repo(args[0]):
        _OUTSIDE_READS.append(os.fsdecode(args[0]))


def install() -> None:
    sys.addaudithook(_audit)  # for the whole session: audit hooks cannot be removed


def take_outside_reads() -> list[str]:
    """The paths beside the checkout opened since the last call."""
    found = list(_OUTSIDE_READS)
    _OUTSIDE_READS.clear()
    return found
