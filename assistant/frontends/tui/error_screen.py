"""What the user sees when the session cannot start: what is wrong, and the one thing to do about it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from assistant.errors import ModelError, NoMicrophoneError


@dataclass(frozen=True)
class Explanation:
    title: str
    detail: str  # what went wrong
    fix_intro: str = ""
    fix: str = ""  # the one command that gets past it


def explain(error: Exception) -> Explanation:
    if isinstance(error, ModelError):
        return Explanation("Models missing", f"Some model files are not on disk yet:\n{error}",
                           "Get them all with one command, then start voice-assistant again:",
                           "voice-assistant models pull")
    if isinstance(error, NoMicrophoneError):
        return Explanation("No microphone", str(error), "To try it anyway, use a WAV file as the microphone:",
                           "voice-assistant --input FILE.wav")
    return Explanation("Stopped on an error", str(error) or type(error).__name__)


class StartupErrorScreen(Screen):
    """Only q (the app's) works here: the app hides its other keys while this screen is up."""

    DEFAULT_CSS = """
    StartupErrorScreen {
        align: center middle;
        & #box {
            width: 76;
            height: auto;
            padding: 1 2;
            border: thick $error;
            border-title-color: $error;
            border-title-style: bold;
        }
        & #fix-intro { margin: 1 0 0 0; }
        & #fix { margin: 1 0; padding: 0 2; width: auto; background: $boost; color: $success; text-style: bold; }
        & #after { color: $text-muted; }
    }
    """

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.explanation = explain(error)

    def compose(self) -> ComposeResult:
        explanation = self.explanation
        with Vertical(id="box") as box:
            box.border_title = explanation.title
            yield Static(explanation.detail, id="detail", markup=False)
            if explanation.fix:
                yield Static(explanation.fix_intro, id="fix-intro")
                with Center():
                    yield Static(explanation.fix, id="fix", markup=False)
            yield Static("Press q to quit.", id="after")
        yield Footer()
