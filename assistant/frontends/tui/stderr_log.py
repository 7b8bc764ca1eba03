"""While the TUI owns the terminal, whatever C libraries write to fd 2 (ALSA, PortAudio, ONNX Runtime warnings)
goes to a log file instead of scribbling over the screen. Textual draws through `sys.__stderr__`, which is pointed
at a copy of the terminal's descriptor for the time being, so the screen itself is untouched."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from assistant.core.private_files import open_private

MAX_LOG_BYTES = 1 << 20


def tui_log_path() -> Path:
    from platformdirs import user_log_path  # ~/.local/state/voice-assistant/log ($XDG_STATE_HOME honoured)

    return user_log_path("voice-assistant", appauthor=False) / "stderr.log"


@dataclass
class StderrLog:
    path: Path
    written: int = 0  # bytes the libraries wrote while redirected


@contextlib.contextmanager
def stderr_to_log(path: Path) -> Iterator[StderrLog]:
    """fd 2 → `path` (appended) inside the block; sys.stderr and sys.__stderr__ stay on the terminal."""
    log = StderrLog(path)
    try:
        # Each run appends; past MAX_LOG_BYTES the old chatter is dropped, so it never grows without end.
        stale = path.is_file() and path.stat().st_size > MAX_LOG_BYTES
        log_fd = open_private(path, os.O_WRONLY | os.O_APPEND | (os.O_TRUNC if stale else 0))
    except OSError:  # nowhere to put them: better scribbles than no TUI
        yield log
        return
    before = os.fstat(log_fd).st_size
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(2), "w", encoding=sys.stderr.encoding, errors="backslashreplace", buffering=1)
    saved = sys.stderr, sys.__stderr__
    os.dup2(log_fd, 2)
    sys.stderr = sys.__stderr__ = terminal  # type: ignore[misc]  # a library writing to __stderr__ must not miss it
    try:
        yield log
    finally:
        terminal.flush()
        os.dup2(terminal.fileno(), 2)
        sys.stderr, sys.__stderr__ = saved  # type: ignore[misc]
        terminal.close()
        log.written = os.fstat(log_fd).st_size - before
        os.close(log_fd)
