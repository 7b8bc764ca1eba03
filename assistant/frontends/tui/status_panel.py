"""What the assistant is doing now, how turns are taken, and which engines it runs on."""

from __future__ import annotations

from textual.containers import Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from assistant.core.events import State
from assistant.frontends.tui.messages import EngineInfo

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


class EngineSummary(Widget):
    """Turn-taking mode, LLM and voice, each with the reason it was picked."""

    DEFAULT_CSS = """
    EngineSummary { height: auto; margin: 1 0 0 0; }
    """

    mode = reactive("", layout=True)
    engines = reactive[EngineInfo | None](None, layout=True)

    def render(self) -> Content:
        loading = ("loading…", "$foreground-muted")
        engines = self.engines
        parts: list[str | tuple[str, str]] = [("mode   ", "bold"), self.mode or loading, "\n",
                                              ("LLM    ", "bold"), engines.llm if engines else loading]
        if engines and engines.llm_why:
            parts += ["\n", (f"       {engines.llm_why}", "$foreground-muted")]
        parts += ["\n", ("voice  ", "bold"), engines.tts if engines else loading]
        if engines and engines.tts_why:
            parts += ["\n", (f"       {engines.tts_why}", "$foreground-muted")]
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

    def show_engines(self, engines: EngineInfo) -> None:
        self.query_one(EngineSummary).engines = engines
