"""The terminal UI that `voice-assistant` opens by default: the conversation, its state, the mic and the latency."""

from __future__ import annotations

import sys
from pathlib import Path

from assistant.config import Config


def run_tui(config: Config, input_path: str | Path | None = None) -> int:
    """Run the TUI until the user quits; `input_path` (a WAV file) stands in for the microphone."""
    from assistant.frontends.tui.app import VoiceAssistantApp
    from assistant.frontends.tui.session import Session
    from assistant.frontends.tui.stderr_log import stderr_to_log, tui_log_path

    with stderr_to_log(tui_log_path()) as log:
        VoiceAssistantApp(Session(config, input_path)).run()
    if log.written:
        print(f"voice-assistant: messages from the sound libraries are in {log.path}", file=sys.stderr)
    return 0
