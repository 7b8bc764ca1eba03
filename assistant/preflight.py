"""A command's file arguments, checked before anything loads or starts: a bad one is a one-line error naming it
(exit status 2), not a failure after a minute of model loading or at the end of a conversation."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from assistant.errors import UserError


class OutputPathError(UserError):
    """An output file that cannot be written: a bad argument, so exit status 2."""

    exit_code = 2


# (command, attribute, flag, whether missing parent folders are made): the files each command writes.
_OUTPUTS = (("say", "output", "--output", False), ("demo", "output", "--output", False),
            ("converse", "output", "--output", False), ("ask", "output", "--output", False),
            ("converse", "metrics", "--metrics", True), ("ask", "metrics", "--metrics", True),
            ("demo", "metrics", "--metrics", True),
            ("bench", "json", "--json", False))
# (command, attribute): the audio files each command reads (None = the TUI's --input).
_ROOM_NAMES = ("desk", "living-room", "kitchen")  # `converse --echo-ir` also takes a synthesised room's name
_INPUTS = ((None, "input"), ("transcribe", "file"), ("converse", "input"), ("converse", "echo_ir"), ("ask", "input"))


def check_arguments(args: argparse.Namespace) -> None:
    from assistant.audio.files import check_audio_file

    for command, attribute in _INPUTS:
        value = getattr(args, attribute, None) if args.command == command else None
        if value is not None and value not in _ROOM_NAMES:
            check_audio_file(value)
    for command, attribute, flag, makes_parents in _OUTPUTS:
        if args.command == command and getattr(args, attribute, None):
            check_writable(getattr(args, attribute), flag, makes_parents=makes_parents)


def check_writable(path: str | Path, flag: str, *, makes_parents: bool = False) -> None:
    """Whether `path` can be written, found by trying (permission bits say nothing for root or a read-only mount);
    nothing is left behind and an existing file is not changed."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise OutputPathError(f"{flag} {path}: is a folder (hint: give a file name)")
    if path.exists():
        _try(lambda: open(path, "ab").close(), path, flag)
        return
    folder = path.parent
    while makes_parents and not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest existing folder is where the missing ones would be made
    if not folder.is_dir():
        hint = "a file is in the way" if folder.exists() else "create it first, or pick another path"
        raise OutputPathError(f"{flag} {path}: folder {folder} {'is a file' if folder.exists() else 'does not exist'}"
                              f" (hint: {hint})")
    _try(lambda: tempfile.TemporaryFile(dir=folder).close(), path, flag)


def _try(attempt, path: Path, flag: str) -> None:
    try:
        attempt()
    except OSError as error:
        reason = error.strerror or os.strerror(error.errno or 0)
        raise OutputPathError(f"{flag} {path}: cannot write there ({reason}) (hint: pick a writable path)") from None
