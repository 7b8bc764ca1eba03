"""The system prompt, added in front of a conversation unless it starts with one of its own."""

from __future__ import annotations

from assistant.core.ports import Messages


def with_system_prompt(messages: Messages, system_prompt: str) -> Messages:
    if system_prompt and not (messages and messages[0].get("role") == "system"):
        return [{"role": "system", "content": system_prompt}, *messages]
    return list(messages)
