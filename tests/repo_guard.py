"""Tests are self-contained: a file opened from a folder next to the checkout (`../shared/…`) fails the test.

A fresh clone has nothing beside it, so such a read passes here and breaks for everyone else. Python's audit hook
sees every `open` made from Python in this process (C libraries and subprocesses are not seen; their inputs come
from paths that Python code built, and those are checked statically by test_repo_guard).
"""

from __future__ import annotations

import os
import sys
import tempfile

from tests.util import MODELS_DIR, REPO

_OUTSIDE_READS: list[str] = []
# Places outside the checkout a test may read, wherever the checkout is: the interpreter's files (a venv beside the
# checkout is fine) and the pulled models.
_ALLOWED = tuple({os.path.abspath(p) + os.sep for p in (REPO, sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                         MODELS_DIR, MODELS_DIR.resolve())})
# What was beside the checkout before the tests ran (`../shared`); folders made since (temporary ones, when the
# checkout is in /tmp) are the tests' own. Hidden ones beside a checkout in $HOME (~/.cache, ~/.local) are the user's.
_BEFORE = {name for name in os.listdir(REPO.parent) if not name.startswith(".")} - {REPO.name}
_OWN_PREFIXES = ("pytest-of-", tempfile.gettempprefix())


def leaves_repo(path: str | os.PathLike) -> bool:
    """Whether `path` (as given, symlinks not followed) is in a folder beside the checkout (`../shared/…`) rather
    than in it or in an allowed place. Hidden folders beside it (`~/.cache`, `~/.config` for a clone in $HOME) are
    the user's, and folders made while the tests run are their own."""
    full = os.path.abspath(os.fsdecode(path)) + os.sep
    parent = str(REPO.parent).rstrip(os.sep) + os.sep
    if not full.startswith(parent) or full.startswith(_ALLOWED):
        return False
    first = full[len(parent):].split(os.sep, 1)[0]
    return first in _BEFORE and not first.startswith(_OWN_PREFIXES)


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
