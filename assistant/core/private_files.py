"""What the assistant keeps about its user (the turn log, timers, logs) is theirs alone: folders 0700 and files
0600 from the first byte, never created readable and chmod-ed after, and whatever older versions left readable by
others is tightened when a session starts."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = 0o077  # group and world bits


def make_private_dir(folder: Path) -> None:
    """`folder` made owner-only if it is new (an existing one is `tighten`'s business); parents as the system makes
    them (~/.local/state is not ours)."""
    folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def open_private(path: Path, flags: int) -> int:
    """`os.open` that creates `path` (and its folder) readable by the owner only."""
    make_private_dir(path.parent)
    return os.open(path, flags | os.O_CREAT, PRIVATE_FILE)


def tighten(folders: Iterable[Path], files: Iterable[Path] = ()) -> list[Path]:
    """Each folder with all it holds, and each file, made owner-only where group or others had any access; what was
    changed. Missing paths and symbolic links (whose targets are not ours to judge) are left alone."""
    paths = [path for folder in folders if folder.is_dir() for path in (folder, *folder.rglob("*"))]
    changed = []
    for path in [*paths, *files]:
        try:
            status = path.lstat()
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(status.st_mode) or not stat.S_IMODE(status.st_mode) & _OTHERS:
            continue
        os.chmod(path, stat.S_IMODE(status.st_mode) & ~_OTHERS)
        changed.append(path)
    return changed
