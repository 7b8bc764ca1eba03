"""The conversation pane: turns the conversation's events into lines, in order, and keeps the newest in view."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from assistant.core.events import State
from assistant.core.records import Outcome, TurnRecord
from assistant.frontends.tui.chat_lines import NoticeLine, ReplyLine, UserLine

HINT = "Just talk. Or press [b]t[/] and type. [b]m[/] switches to push-to-talk, where [b]space[/] takes your turn."


class ConversationPane(VerticalScroll):
    """One turn at a time: the user line and the reply line of the turn in progress stay open until it ends."""

    DEFAULT_CSS = """
    ConversationPane {
        height: 1fr;
        padding: 1 2 0 1;
        & > #hint { color: $text-muted; margin: 0 0 1 0; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._user: UserLine | None = None
        self._reply: ReplyLine | None = None

    def compose(self) -> ComposeResult:
        yield Static(HINT, id="hint")

    def on_mount(self) -> None:
        self.anchor()  # follow the newest line, until the user scrolls up

    def _add(self, line: Widget, before: Widget | None = None) -> None:
        self.query("#hint").remove()
        self.mount(line, before=before)

    def _open_reply(self) -> ReplyLine:
        if self._reply is None:
            self._reply = ReplyLine()
            self._add(self._reply)
        return self._reply

    # ---- the turn in progress

    def state_changed(self, state: State) -> None:
        if state == State.USER_SPEAKING:
            if self._user is None:
                self._user = UserLine()
                self._add(self._user)
            else:  # speech again before anything was played: the same turn goes on, its reply is dropped
                self._user.provisional = True
                self._drop_reply()
        elif state == State.THINKING:
            self._open_reply()  # "…" until the first words arrive

    def partial(self, text: str) -> None:
        if self._user is None:
            self._user = UserLine(text)
            self._add(self._user, before=self._reply)
        else:
            self._user.text = text

    def final(self, text: str) -> None:
        if not text:
            self._drop_user()
        elif self._user is None:  # typed, or no partial came: the reply placeholder may be there already
            self._user = UserLine(text, provisional=False)
            self._add(self._user, before=self._reply)
        else:
            self._user.text, self._user.provisional = text, False

    def reply_delta(self, text: str) -> None:
        self._open_reply().text += text

    def interrupted(self, heard: str, barge_in_ms: float | None) -> None:
        self._open_reply().interrupt(heard, barge_in_ms)

    def notice(self, message: str) -> None:
        self._add(NoticeLine(message))

    def turn_finished(self, record: TurnRecord) -> None:
        if record.outcome == Outcome.NO_SPEECH:
            self._drop_user()
        if self._reply is not None:
            if record.outcome == Outcome.INTERRUPTED and not self._reply.interrupted:
                self._reply.interrupt("", None)  # cut off by a typed message before a word was played
            elif not self._reply.text and not self._reply.interrupted:
                self._drop_reply()
        self._user = self._reply = None

    def clear(self) -> None:
        self._user = self._reply = None
        self.remove_children()
        self.mount(Static(HINT, id="hint"))

    def _drop_user(self) -> None:
        if self._user is not None:
            self._user.remove()
            self._user = None

    def _drop_reply(self) -> None:
        if self._reply is not None:
            self._reply.remove()
            self._reply = None
