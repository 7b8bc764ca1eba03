"""The tool interface (schemas from hints and docstrings, checked calls), the built-in clock and timer tools with an
injected clock, and the timers' state file across a restart."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import pytest

from assistant.config import ToolsConfig
from assistant.core.tooling import ToolCall, ToolError
from assistant.errors import ConfigError
from assistant.tools.clock import Clock
from assistant.tools.schema import make_tool
from assistant.tools.toolbox import ToolRegistry, open_toolbox

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 12, 1, 14, 5, tzinfo=PARIS).timestamp()  # a Tuesday, 2:05 PM in Paris


class FakeTime:
    """The tools' clock, moved by the test."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def toolbox(tmp_path, time: FakeTime, **settings) -> ToolRegistry:
    config = ToolsConfig(state_file=str(tmp_path / "timers.json"), **settings)
    return open_toolbox(config, Clock(time, PARIS))


def call(box: ToolRegistry, name: str, **arguments) -> str:
    return asyncio.run(box.call(ToolCall(name, arguments)))


# --- the interface ------------------------------------------------------------------------------------------


async def roll_dice(sides: int, colour: Literal["red", "blue"] = "red", loud: bool = False) -> str:
    """Roll a die and say the number.

    It is a fair die.

    Args:
        sides: how many sides the die has
        colour: which die
    """
    return f"{colour} {sides} {loud}"


def test_schema_comes_from_the_hints_and_the_docstring():
    assert make_tool(roll_dice).schema() == {"type": "function", "function": {
        "name": "roll_dice", "description": "Roll a die and say the number.",
        "parameters": {"type": "object", "required": ["sides"], "properties": {
            "sides": {"type": "integer", "description": "how many sides the die has"},
            "colour": {"type": "string", "enum": ["red", "blue"], "description": "which die"},
            "loud": {"type": "boolean", "description": ""}}}}}


@pytest.mark.parametrize(("arguments", "error"), [
    ({}, "roll_dice: missing argument 'sides'"),
    ({"sides": "six"}, "roll_dice: 'sides' must be a whole number, got 'six'"),
    ({"sides": 2.5}, "roll_dice: 'sides' must be a whole number, got 2.5"),
    ({"sides": 6, "colour": "green"}, "roll_dice: 'colour' must be one of red, blue, got 'green'"),
    ({"sides": 6, "loud": "yes"}, "roll_dice: 'loud' must be true or false, got 'yes'"),
    ({"sides": 6, "size": 3}, "roll_dice: unknown argument 'size' (it takes: sides, colour, loud)"),
    ("sides=6", "roll_dice: arguments must be an object, got 'sides=6'"),
])
def test_bad_arguments_are_one_line_errors_naming_them(arguments, error):
    with pytest.raises(ToolError) as caught:
        asyncio.run(make_tool(roll_dice)(arguments))
    assert str(caught.value) == error


def test_numbers_sent_as_text_are_accepted():
    assert asyncio.run(make_tool(roll_dice)({"sides": "20", "colour": "blue"})) == "blue 20 False"


def test_a_function_that_cannot_be_described_is_refused_at_startup():
    async def undocumented(x: int) -> str:
        return ""

    async def untyped(x) -> str:  # type: ignore[no-untyped-def]
        """Untyped."""
        return ""

    def blocking() -> str:
        """Not async."""
        return ""

    for function, why in ((undocumented, "needs a docstring"), (untyped, "needs a type hint"),
                          (blocking, "must be an async function")):
        with pytest.raises(TypeError, match=why):
            make_tool(function)  # type: ignore[arg-type]


def test_registry_names_unknown_tools_and_wraps_a_crashing_one(tmp_path):
    async def flaky() -> str:
        """Fails."""
        raise KeyError("boom")

    box = open_toolbox(ToolsConfig(state_file=str(tmp_path / "t.json")), Clock(FakeTime(), PARIS), extra=[flaky])
    with pytest.raises(ToolError, match=r"no tool named 'weather' \(tools: current_time, set_timer, .*flaky\)"):
        call(box, "weather")
    with pytest.raises(ToolError, match=r"flaky failed: 'boom'"):
        call(box, "flaky")


def test_config_disables_tools_and_names_an_unknown_one(tmp_path):
    box = toolbox(tmp_path, FakeTime(), disabled="set_alarm, cancel_timer")
    names = [schema["function"]["name"] for schema in box.schemas()]
    assert names == ["current_time", "set_timer", "list_timers", "time_left"]
    assert box.intent("set an alarm for 7 am") is None  # a disabled tool is not reached by the intents either
    assert toolbox(tmp_path, FakeTime(), enabled=False).schemas() == []
    with pytest.raises(ConfigError, match=r"\[tools\] disabled: no tool named 'set_alarms' \(tools: current_time"):
        toolbox(tmp_path, FakeTime(), disabled="set_alarms")
    with pytest.raises(ConfigError, match=r"unknown time zone 'Mars/Olympus'"):
        Clock.named("Mars/Olympus")


# --- the built-in tools ---------------------------------------------------------------------------------------


def test_current_time_is_local_time_and_date(tmp_path):
    assert call(toolbox(tmp_path, FakeTime()), "current_time") == "It is 2:05 PM on Tuesday, December 1, 2026."


def test_timers_set_list_time_left_and_cancel(tmp_path):
    time = FakeTime()
    box = toolbox(tmp_path, time)
    assert call(box, "set_timer", duration="ten minutes", label="tea") == "Tea timer set for 10 minutes."
    assert call(box, "set_timer", duration="an hour and a half") == "Timer set for 1 hour 30 minutes."
    assert call(box, "set_alarm", time="7 am") == "Alarm set for 7 AM."
    time.now += 90
    assert call(box, "time_left", label="tea") == "The tea timer has 8 minutes 30 seconds left."
    assert call(box, "list_timers") == ("The tea timer has 8 minutes 30 seconds left. The timer has 1 hour 28 "
                                        "minutes 30 seconds left. The alarm goes off at 7 AM, in 16 hours 53 "
                                        "minutes 30 seconds.")
    with pytest.raises(ToolError, match=r"time_left: which one\? set: tea, timer, alarm"):
        call(box, "time_left")
    with pytest.raises(ToolError, match=r"cancel_timer: no timer called 'pasta' \(set: tea, timer, alarm\)"):
        call(box, "cancel_timer", label="pasta")
    assert call(box, "cancel_timer", label="tea timer") == "Tea timer cancelled."
    with pytest.raises(ToolError, match=r"set_timer: cannot read the duration 'soon'"):
        call(box, "set_timer", duration="soon")
    assert call(box, "cancel_timer", label="all") == "Cancelled 2 timers."
    assert call(box, "list_timers") == "No timers or alarms are set."


def test_alarm_at_an_hour_without_am_or_pm_is_the_next_one(tmp_path):
    box = toolbox(tmp_path, FakeTime())  # 2:05 PM
    assert call(box, "set_alarm", time="7") == "Alarm set for 7 PM."
    assert call(box, "set_alarm", time="14:00", label="nap") == "Nap alarm set for 2 PM."  # tomorrow's
    assert box.timers.timers[1].due - START == pytest.approx(24 * 3600 - 5 * 60)


# --- due timers and the state file ----------------------------------------------------------------------------


def test_a_due_timer_is_announced_once(tmp_path):
    time = FakeTime()
    box = toolbox(tmp_path, time)
    call(box, "set_timer", duration="3 minutes", label="eggs")
    assert box.timers.take_due() == []
    time.now += 180
    [due] = box.timers.take_due()
    assert box.timer_tools.announcement(due) == "The eggs timer is done."
    assert box.timers.take_due() == []


def test_timers_survive_a_restart_and_a_missed_one_is_announced_once(tmp_path):
    time = FakeTime()
    call(toolbox(tmp_path, time), "set_timer", duration="5 minutes", label="tea")
    call(toolbox(tmp_path, time), "set_timer", duration="2 hours", label="roast")
    state = json.loads((tmp_path / "timers.json").read_text())
    assert [timer["label"] for timer in state["timers"]] == ["tea", "roast"]
    assert not list(tmp_path.glob(".timers.json.*")), "the temporary file was left behind"

    time.now += 600  # the assistant was off when the tea timer was due
    restarted = toolbox(tmp_path, time)
    announced = asyncio.run(first_announcement(restarted))
    assert announced == "While I was off, the tea timer went off at 2:10 PM."
    again = toolbox(tmp_path, time)  # and once only: the next start has only the roast left
    assert [timer.label for timer in again.timers.timers] == ["roast"]
    assert call(again, "time_left") == "The roast timer has 1 hour 50 minutes left."


async def first_announcement(box: ToolRegistry) -> str:
    async for announcement in box.announcements():
        return announcement.text
    raise AssertionError("no announcement")


def test_timers_of_a_run_of_its_own_are_not_kept(tmp_path):
    box = open_toolbox(ToolsConfig(state_file=str(tmp_path / "timers.json")), Clock(FakeTime(), PARIS),
                       keep_timers=False)
    call(box, "set_timer", duration="5 minutes")
    assert call(box, "list_timers") == "The timer has 5 minutes left."
    assert not (tmp_path / "timers.json").exists()


def test_a_broken_state_file_is_set_aside(tmp_path, caplog):
    (tmp_path / "timers.json").write_text("{not json")
    box = toolbox(tmp_path, FakeTime())
    assert box.timers.timers == []
    assert (tmp_path / "timers.json.broken").exists() and "unreadable" in caplog.text


def test_due_timers_wake_the_announcer_when_set(tmp_path):
    """The announcer sleeps until the soonest timer, and a new, sooner one wakes it (real time, short)."""
    box = open_toolbox(dataclasses.replace(ToolsConfig(), state_file=str(tmp_path / "t.json")), Clock(zone=PARIS))

    async def main() -> float:
        loop = asyncio.get_running_loop()
        await box.call(ToolCall("set_timer", {"duration": "1 hour"}))
        waiting = loop.create_task(first_announcement(box))
        await asyncio.sleep(0.05)
        start = loop.time()
        await box.call(ToolCall("set_timer", {"duration": "1 second", "label": "quick"}))
        assert await asyncio.wait_for(waiting, 5) == "The quick timer is done."
        return loop.time() - start

    assert 0.95 <= asyncio.run(main()) < 2.0
