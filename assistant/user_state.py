"""What the assistant keeps about its user between runs: the turn log (what was said, with the replies), the timers
and the TUI's log, in the state folder (`$XDG_STATE_HOME/voice-assistant`, ~/.local/state/voice-assistant; the
platform's own folder elsewhere). Kept owner-only, and removable with `voice-assistant forget`."""

from __future__ import annotations

import contextlib
from pathlib import Path

from assistant.config import Config
from assistant.core.private_files import tighten
from assistant.core.turn_log import rotated_out
from assistant.paths import turn_log_path, user_state_dir
from assistant.tools.toolbox import timers_path


def turn_log_files(config: Config) -> list[Path]:
    """The turn log and the part rotated out of it."""
    path = turn_log_path(config.conversation.metrics_file)
    return [path, rotated_out(path)] if path else []


def tighten_user_state(config: Config) -> str | None:
    """Everything kept made owner-only; a one-line notice when an older version had left some of it readable."""
    files = [*turn_log_files(config), timers_path(config.tools)]
    changed = tighten([user_state_dir()], files)
    if not changed:
        return None
    return (f"made {len(changed)} file(s) of yours private (owner-only), e.g. {changed[0]}: "
            "older versions left them readable by other users")


def forget(config: Config, timers: bool) -> list[Path]:
    """The turn log removed (and the timers' file too if `timers`); what was removed."""
    removed = []
    for path in [*turn_log_files(config), *([timers_path(config.tools)] if timers else [])]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
