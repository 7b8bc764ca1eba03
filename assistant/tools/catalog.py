"""The built-in tools. To add one: write an async function with type hints and a docstring (see `schema.py`),
in a module of its own, and list it here."""

from __future__ import annotations

from assistant.tools.clock import TimeTools
from assistant.tools.schema import ToolFunction
from assistant.tools.timer_tools import TimerTools


def builtin_tools(time: TimeTools, timers: TimerTools) -> list[ToolFunction]:
    return [time.current_time, timers.set_timer, timers.set_alarm, timers.list_timers, timers.time_left,
            timers.cancel_timer]
