"""The conversation as the LLM sees it: bounded, oldest turns dropped first, interrupted replies cut."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    role: str  # "user" or "assistant"
    content: str
    interrupted: bool = False

    def for_llm(self) -> dict[str, str]:
        # An interrupted reply ends where the user stopped hearing it; the ellipsis tells the model so.
        return {"role": self.role, "content": f"{self.content}…" if self.interrupted else self.content}


class History:
    """User and assistant messages within `budget_chars`; the LLM adds the system prompt itself."""

    def __init__(self, budget_chars: int) -> None:
        self.budget_chars = budget_chars
        self.messages: list[Message] = []

    def add(self, message: Message) -> None:
        if message.role == "assistant" and not message.content:
            return  # nothing was said: the next user turn simply follows the last one
        self.messages.append(message)
        self._trim()

    def retract(self, message: Message) -> None:
        """Take back a message added for a turn that turned out not to be over (if the budget has not dropped it)."""
        for index in range(len(self.messages) - 1, -1, -1):
            if self.messages[index] is message:  # that very message, not an equal older one
                del self.messages[index]
                return

    def _trim(self) -> None:
        # Drop whole turns from the front (a user message and the reply to it) until within budget,
        # always keeping the newest message.
        while len(self.messages) > 1 and self.size > self.budget_chars:
            del self.messages[0]
            while len(self.messages) > 1 and self.messages[0].role == "assistant":
                del self.messages[0]

    @property
    def size(self) -> int:
        return sum(len(m.content) for m in self.messages)

    def for_llm(self) -> list[dict[str, str]]:
        return [m.for_llm() for m in self.messages]

    def clear(self) -> None:
        self.messages.clear()
