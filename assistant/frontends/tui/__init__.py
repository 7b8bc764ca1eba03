"""The terminal UI that `voice-assistant` opens by default: the conversation, its state, the mic and the latency."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Config


def run_tui(config: Config, input_path: str | Path | None = None) -> int:
    """Run the TUI until the user quits; `input_path` (a WAV file) stands in for the microphone."""
    from assistant.frontends.tui.app import VoiceAssistantApp
    from assistant.frontends.tui.session import Session

    VoiceAssistantApp(Session(config, input_path)).run()
    return 0
