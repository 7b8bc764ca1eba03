"""Where the model files live: `--models-dir`, then `[models] dir` in the config, then $VOICE_ASSISTANT_MODELS_DIR,
then a source checkout's own `models/` when it already holds models, then the user's data folder
(`$XDG_DATA_HOME/voice-assistant/models`, `~/.local/share/…`; `~/Library/Application Support/…` on macOS).
The variable stands in for the default, so a config that names a folder keeps it."""

from __future__ import annotations

import os
from pathlib import Path

MODELS_DIR_ENV = "VOICE_ASSISTANT_MODELS_DIR"
APP_NAME = "voice-assistant"
_CHECKOUT = Path(__file__).resolve().parents[1]


def user_models_dir() -> Path:
    from platformdirs import user_data_path  # honours XDG_DATA_HOME; the platform's own folder elsewhere

    return user_data_path(APP_NAME, appauthor=False) / "models"


def user_state_dir() -> Path:
    """Where the assistant keeps state between runs (timers): `$XDG_STATE_HOME/voice-assistant`, else
    ~/.local/state/voice-assistant (the platform's own folder elsewhere)."""
    from platformdirs import user_state_path

    return user_state_path(APP_NAME, appauthor=False)


def state_file(configured: str) -> Path:
    """A file kept between runs as configured: a bare name ("turns.jsonl") lives in the state folder, a path (with a
    folder or ~) is taken as it is."""
    if len(Path(configured).parts) == 1 and not configured.startswith("~"):
        return user_state_dir() / configured
    return Path(configured).expanduser()


def turn_log_path(metrics_file: str) -> Path | None:
    """`[conversation] metrics_file` as a path ("" = no turn log)."""
    return state_file(metrics_file) if metrics_file else None


def user_cache_dir() -> Path:
    """Where the assistant keeps what it can always make again (measurements, optimised model graphs):
    `$XDG_CACHE_HOME/voice-assistant`, else ~/.cache/voice-assistant (the platform's own folder elsewhere)."""
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME, appauthor=False)


def checkout_models_dir() -> Path | None:
    """A clone (an editable install) whose `models/` already holds model folders keeps using them, wherever the
    command runs from; a wheel install has no pyproject.toml beside the package, so never matches."""
    folder = _CHECKOUT / "models"
    if not (_CHECKOUT / "pyproject.toml").is_file() or not folder.is_dir():
        return None
    return folder if any(child.is_dir() for child in folder.iterdir()) else None


def default_models_dir() -> Path:
    return checkout_models_dir() or user_models_dir()


def resolve_models_dir(configured: str) -> Path:
    """`[models] dir` as configured ("" = the variable, else the default); relative to the working directory."""
    chosen = configured or os.environ.get(MODELS_DIR_ENV)
    return Path(chosen).expanduser() if chosen else default_models_dir()
