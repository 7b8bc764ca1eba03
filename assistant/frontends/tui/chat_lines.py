"""The lines of the conversation: what the user said, what the assistant replied, and notices."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget


class UserLine(Widget):
    """A user turn: provisional (dim, italic) while partial transcripts arrive, final once transcribed."""

    DEFAULT_CSS = """
    UserLine {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
        border-left: outer $primary-lighten-1;
        &.-provisional { color: $text-muted; text-style: italic; border-left: outer $primary-lighten-1 40%; }
    }
    """

    text = reactive("", layout=True)
    provisional = reactive(True)

    def __init__(self, text: str = "", provisional: bool = True) -> None:
        super().__init__()
        self.set_reactive(UserLine.text, text)
        self.set_reactive(UserLine.provisional, provisional)
        self.set_class(provisional, "-provisional")

    def watch_provisional(self, provisional: bool) -> None:
        self.set_class(provisional, "-provisional")

    def render(self) -> Content:
        return Content.assemble(("you  ", "bold $primary-lighten-1"), self.text or "…")


class ReplyLine(Widget):
    """The assistant's reply as it streams in; once cut off, the heard part stays and the rest is struck out."""

    DEFAULT_CSS = """
    ReplyLine {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
        border-left: outer $success;
        &.-interrupted { border-left: outer $error; }
    }
    """

    text = reactive("", layout=True)  # everything the model wrote
    heard = reactive[str | None](None, layout=True)  # once interrupted: the words that were played
    barge_in_ms = reactive[float | None](None)

    def interrupt(self, heard: str, barge_in_ms: float | None) -> None:
        self.heard, self.barge_in_ms = heard, barge_in_ms
        self.add_class("-interrupted")

    @property
    def interrupted(self) -> bool:
        return self.heard is not None

    def render(self) -> Content:
        speaker = ("assistant  ", "bold $success")
        if self.heard is None:
            return Content.assemble(speaker, self.text or ("…", "$foreground-muted"))
        unheard = " ".join(self.text.split()[len(self.heard.split()):])
        cut = " ⏹ interrupted" + (f" · silent {self.barge_in_ms:.0f} ms after you cut in" if self.barge_in_ms else "")
        return Content.assemble(speaker, self.heard, (f" {unheard}" if unheard else "", "$foreground-muted strike"),
                                (cut, "bold $error"))


class NoticeLine(Widget):
    """Something that went wrong in a turn, said in one line; the conversation goes on."""

    DEFAULT_CSS = """
    NoticeLine {
        height: auto;
        margin: 0 0 1 0;
        padding: 0 1;
        color: $warning;
        border-left: outer $warning;
    }
    """

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    def render(self) -> Content:
        return Content.assemble(("⚠ ", "bold"), self.message)
