"""What the session reports up to the app. The session posts these; it never touches a widget."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from assistant.core.events import ConversationEvent


class EngineProgress(Message):
    """One line of engine-loading progress ("VAD ready (Silero)", …)."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


@dataclass(frozen=True)
class EngineInfo:
    """What the status panel says about the engines: names, and why each was picked."""

    llm: str
    tts: str
    llm_why: str  # e.g. "backend = embedded", "auto: Ollama is not answering at …"
    tts_why: str  # e.g. "configured", "it speaks faster than real time here (real-time factor 0.45)"


class SessionReady(Message):
    """The engines are loaded and the microphone is open: the conversation is listening."""

    def __init__(self, engines: EngineInfo, mode: str, notices: list[str]) -> None:
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
