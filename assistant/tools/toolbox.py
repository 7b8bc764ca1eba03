"""The registry: the enabled tools by name, their schemas, a call checked and run, and the due timers.

`open_toolbox(config)` builds the built-in one: the time and the timers (their state file loaded), minus the tools
`[tools] disabled` names. A tool of your own is an async function (see `schema.py`) added to `TOOLS` in
`catalog.py`, or passed in `extra`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import ToolsConfig
from assistant.core.tooling import Announcement, Countdown, ToolCall, ToolError
from assistant.errors import ConfigError
from assistant.paths import state_file
from assistant.tools.clock import Clock, TimeTools
from assistant.tools.intents import match_intent
from assistant.tools.schema import Tool, ToolFunction, make_tool
from assistant.tools.timer_tools import TimerTools
from assistant.tools.timers import TimerStore


@dataclass
class ToolRegistry:
    tools: Mapping[str, Tool]
    timers: TimerStore
    timer_tools: TimerTools

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    async def call(self, call: ToolCall) -> str:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            raise ToolError(f"no tool named {call.name!r} (tools: {known})")
        try:
            return await tool(call.arguments)
        except ToolError:
            raise
        except Exception as error:  # a bug in one tool fails its call, never the turn
            raise ToolError(f"{call.name} failed: {error or type(error).__name__}") from error

    def intent(self, text: str) -> ToolCall | None:
        call = match_intent(text)
        return call if call is not None and call.name in self.tools else None

    def countdowns(self) -> list[Countdown]:
        return self.timer_tools.countdowns()

    async def announcements(self) -> AsyncIterator[Announcement]:
        async for timer in self.timers.until_due():
            yield Announcement(self.timer_tools.announcement(timer))


def timers_path(config: ToolsConfig) -> Path:
    return state_file(config.state_file or "timers.json")


def open_toolbox(config: ToolsConfig, clock: Clock | None = None, extra: Iterable[ToolFunction] = (),
                 keep_timers: bool = True) -> ToolRegistry:
    """The enabled tools, with the timers read from their state file (blocking: call it off the loop);
    `keep_timers=False`: timers live in memory only, for one run."""
    from assistant.tools.catalog import builtin_tools

    clock = clock or Clock.named(config.timezone)
    timers = TimerStore(timers_path(config) if keep_timers else None, clock.now)
    timers.load()
    timer_tools = TimerTools(timers, clock)
    every = [make_tool(function) for function in [*builtin_tools(TimeTools(clock), timer_tools), *extra]]
    disabled = {name.strip() for name in config.disabled.split(",") if name.strip()}
    unknown = disabled - {tool.name for tool in every}
    if unknown:
        raise ConfigError(f"[tools] disabled: no tool named {sorted(unknown)[0]!r} "
                          f"(tools: {', '.join(tool.name for tool in every)})")
    enabled = {tool.name: tool for tool in every if tool.name not in disabled and config.enabled}
    return ToolRegistry(enabled, timers, timer_tools)
