"""Engine loading, as it happens: a line per engine that is ready. The rest of the UI works meanwhile."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from assistant.config import Config
from assistant.core.ports import EngineInfo


def engine_count(config: Config) -> int:
    """How many engines loading reports: VAD, STT, LLM, TTS, and the end-of-turn model when it decides turns."""
    return 5 if config.turn.end_of_turn == "smart" else 4


class StartupPanel(Widget):
    DEFAULT_CSS = """
    StartupPanel {
        height: auto;
        padding: 0 1;
        margin: 1 2 0 1;
        border: round $primary 60%;
        border-title-color: $primary;
        &.-done { display: none; }
    }
    """

    ready = reactive[tuple[EngineInfo, ...]](tuple, layout=True)

    def __init__(self, engines: int) -> None:
        super().__init__()
        self.engines = engines  # how many will be reported, each once, when it is ready

    def on_mount(self) -> None:
        self.border_title = "starting"

    def progress(self, engine: EngineInfo) -> None:
        self.ready = (*self.ready, engine)

    def done(self) -> None:
        self.add_class("-done")

    def render(self) -> Content:
        ready = len(self.ready)
        header = Content.assemble(("loading the models  ", "bold"), ("▰" * ready, "$success"),
                                  ("▱" * max(0, self.engines - ready), "$foreground-muted"),
                                  f"  {ready}/{self.engines}")
        lines = [Content.assemble(("✓ ", "$success"), f"{info.role} ready ({info.name}"
                                  + (f", {info.why})" if info.why else ")")) for info in self.ready]
        return Content("\n").join([header, *lines])
