"""One round of tool calls in a reply: run them concurrently on the loop, each within its timeout, with a short
spoken filler when they take long, and their results (or clear errors) as `tool` messages for the model.

They run in the reply's task, so a barge-in (or the user going on) cancels them with the rest of the reply. They
wait for the end of the turn to be confirmed first: a speculative answer that is dropped must not have set a timer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from assistant.config import ToolsConfig
from assistant.core.records import ToolCallRecord, TurnDraft
from assistant.core.reply import Reply
from assistant.core.tooling import Toolbox, ToolCall, ToolError

FILLER = "One moment."
MAX_CALLS = 8  # in one round; more is a confused model, and each one past it gets an error back


class ToolRunner:
    def __init__(self, config: ToolsConfig, toolbox: Toolbox, ms: Callable[[float], float]) -> None:
        self._config = config
        self._toolbox = toolbox
        self._ms = ms  # a monotonic time as ms on the input timeline

    async def run(self, draft: TurnDraft, reply: Reply, calls: Sequence[ToolCall],
                  say_filler: Callable[[str], None]) -> list[ToolCallRecord]:
        """Run `calls` (results in their order); `say_filler` is called once if they are not all done soon."""
        await reply.until_committed()
        async with asyncio.TaskGroup() as group:  # leaving it early (cancelled) cancels every call still running
            tasks = [group.create_task(self._one(call) if index < MAX_CALLS else self._refused(call),
                                       name=f"tool-{call.name}") for index, call in enumerate(calls)]
            _, running = await asyncio.wait(tasks, timeout=self._config.filler_after_s)
            if running:
                say_filler(FILLER)
        records = [task.result() for task in tasks]
        draft.tool_calls += records
        return records

    async def _refused(self, call: ToolCall) -> ToolCallRecord:
        return ToolCallRecord(call.name, dict(call.arguments), self._ms(time.monotonic()), 0.0,
                              f"error: not run: at most {MAX_CALLS} tool calls at a time", failed=True)

    async def _one(self, call: ToolCall) -> ToolCallRecord:
        started = time.monotonic()
        failed = True
        try:
            async with asyncio.timeout(self._config.timeout_s):
                result = await self._toolbox.call(call)
            failed = False
        except TimeoutError:
            result = f"error: {call.name} timed out after {self._config.timeout_s:g}s"
        except ToolError as error:
            result = f"error: {error}"
        except Exception as error:  # a toolbox bug fails this call, never the turn
            result = f"error: {call.name} failed: {error or type(error).__name__}"
        return ToolCallRecord(call.name, dict(call.arguments), self._ms(started),
                              (time.monotonic() - started) * 1000, result, failed)


def tool_messages(records: Sequence[ToolCallRecord]) -> list[dict[str, Any]]:
    """The model's calls and their results, as the messages Ollama takes back."""
    calls = [{"function": {"name": r.name, "arguments": dict(r.arguments)}} for r in records]
    return [{"role": "assistant", "content": "", "tool_calls": calls},
            *({"role": "tool", "content": r.result, "tool_name": r.name} for r in records)]
