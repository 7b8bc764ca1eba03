"""What the assistant is doing now, how turns are taken, and which engines it runs on."""

from __future__ import annotations

from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from assistant.core.events import State
from assistant.core.ports import EngineInfo, EngineRole

STATE_LABELS = {State.LISTENING: "listening", State.USER_SPEAKING: "hearing you", State.THINKING: "thinking",
                State.SPEAKING: "speaking"}


class StateBadge(Widget):
    """The state as a coloured badge; "starting" until the conversation runs."""

    DEFAULT_CSS = """
    StateBadge {
        width: 100%;
        height: 1;
        text-style: bold;
        content-align: center middle;
        background: $panel;
        color: $text-muted;
        &.-listening { background: $success 25%; color: $text; }
        &.-user-speaking { background: $primary; color: $text; }
        &.-thinking { background: $accent 80%; color: $text; }
        &.-speaking { background: $success 80%; color: $text; }
    }
    """

    state = reactive[State | None](None)

    def watch_state(self, old: State | None, new: State | None) -> None:
        if old is not None:
            self.remove_class(f"-{old.value.replace(' ', '-')}")
        if new is not None:
            self.add_class(f"-{new.value.replace(' ', '-')}")

    def render(self) -> str:
        return f"● {STATE_LABELS[self.state].upper()}" if self.state else "○ STARTING"


def echo_label(echo_cancellation: bool) -> str:
    return "cancelled (speakers are fine)" if echo_cancellation else "not cancelled (use headphones)"


class EngineSummary(Widget):
    """Turn-taking mode, echo cancellation, LLM and voice, each with the reason it was picked."""

    DEFAULT_CSS = """
    EngineSummary { height: auto; margin: 1 0 0 0; }
    """

    mode = reactive("", layout=True)
    echo = reactive("", layout=True)
    engines = reactive[tuple[EngineInfo, ...]](tuple, layout=True)

    def render(self) -> Content:
        loading = ("loading…", "$foreground-muted")
        parts: list[str | tuple[str, str]] = [("mode   ", "bold"), self.mode or loading]
        if self.echo:
            parts += ["\n", ("echo   ", "bold"), self.echo]
        for label, role in (("LLM    ", EngineRole.LLM), ("voice  ", EngineRole.TTS)):
            info = next((info for info in self.engines if info.role == role), None)
            parts += ["\n", (label, "bold"), info.name if info else loading]
            if info and info.why:
                parts += ["\n", (f"       {info.why}", "$foreground-muted")]
        return Content.assemble(*parts)


class StatusPanel(Vertical):
    DEFAULT_CSS = """
    StatusPanel { height: auto; }
    """

    def compose(self):
        yield StateBadge()
        yield EngineSummary()

    def show_state(self, state: State) -> None:
        self.query_one(StateBadge).state = state

    def show_mode(self, mode: str) -> None:
        self.query_one(EngineSummary).mode = mode

    def show_echo(self, echo_cancellation: bool) -> None:
        self.query_one(EngineSummary).echo = echo_label(echo_cancellation)

    def show_engines(self, engines: tuple[EngineInfo, ...]) -> None:
        self.query_one(EngineSummary).engines = engines
