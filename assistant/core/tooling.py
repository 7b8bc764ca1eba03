"""What the core needs from tools: a call the model (or the intent layer) asks for, and a `Toolbox` that runs it.

The tools themselves live in `assistant.tools`; the core only sees this Protocol, so it can run calls concurrently
with their timeout, say a filler while they run, cancel them on a barge-in, and speak timers when they are due.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.errors import UserError


@dataclass(frozen=True)
class ToolCall:
    """A request to run a tool: its name and its arguments, as the model (or the intent layer) gave them."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


class ToolError(UserError):
    """A call that cannot run (unknown tool, bad arguments, a failure); `str()` is one line for the model."""


@dataclass(frozen=True)
class Announcement:
    """Something due (a timer, an alarm) to be said out loud between turns."""

    text: str


@dataclass(frozen=True)
class Countdown:
    """A timer or alarm that is set, for a display: its name ("tea timer") and the time left."""

    name: str
    seconds_left: float


class Toolbox(Protocol):
    def schemas(self) -> list[dict[str, Any]]:
        """The enabled tools as JSON schemas, in the form Ollama's `chat(tools=...)` takes."""
        ...

    async def call(self, call: ToolCall) -> str:
        """Run one call; its result as a sentence the model can read (or the assistant can say as it is).
        Raises `ToolError` with a one-line reason."""
        ...

    def intent(self, text: str) -> ToolCall | None:
        """The tool call a plain request asks for ("set a timer for ten minutes"), for models that cannot call
        tools; None when the text is not such a request."""
        ...

    def countdowns(self) -> list[Countdown]:
        """The timers and alarms that are set, soonest first."""
        ...

    def announcements(self) -> AsyncIterator[Announcement]:
        """Each timer or alarm as it becomes due (missed ones first, once), until cancelled."""
        ...
