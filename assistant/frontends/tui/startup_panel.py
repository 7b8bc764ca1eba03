"""Engine loading, as it happens: a line per engine that is ready. The rest of the UI works meanwhile."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

ENGINES = 4  # VAD, STT, LLM, TTS: load_engines reports each once


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

    lines = reactive[tuple[str, ...]](tuple, layout=True)

    def on_mount(self) -> None:
        self.border_title = "starting"

    def progress(self, line: str) -> None:
        self.lines = (*self.lines, line)

    def done(self) -> None:
        self.add_class("-done")

    def render(self) -> Content:
        ready = len(self.lines)
        header = Content.assemble(("loading the models  ", "bold"), ("▰" * ready, "$success"),
                                  ("▱" * max(0, ENGINES - ready), "$foreground-muted"), f"  {ready}/{ENGINES}")
        return Content("\n").join([header, *(Content.assemble(("✓ ", "$success"), line) for line in self.lines)])
