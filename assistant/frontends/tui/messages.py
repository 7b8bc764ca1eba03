"""What the session reports up to the app. The session posts these; it never touches a widget."""

from __future__ import annotations

from textual.message import Message

from assistant.core.events import ConversationEvent
from assistant.core.ports import EngineInfo
from assistant.core.types import Mode


class EngineProgress(Message):
    """One engine is loaded and ready."""

    def __init__(self, engine: EngineInfo) -> None:
        super().__init__()
        self.engine = engine


class SessionReady(Message):
    """The engines are loaded and the microphone is open: the conversation is listening."""

    def __init__(self, engines: tuple[EngineInfo, ...], mode: Mode, notices: list[str]) -> None:
        super().__init__()
        self.engines = engines
        self.mode = mode
        self.notices = notices  # things to tell the user once, e.g. that Ollama did not answer


class SessionFailed(Message):
    """The session could not start (missing models, no microphone, …) or stopped on an error."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


class ConversationUpdate(Message):
    """One event from the conversation, passed through unchanged."""

    def __init__(self, event: ConversationEvent) -> None:
        super().__init__()
        self.event = event
