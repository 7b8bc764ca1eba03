"""The TUI's timers panel: a live countdown of what the toolbox has set (its clock moved by the test)."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from assistant.core.tooling import ToolCall
from assistant.frontends.tui.timers_panel import TICK_S, TimersPanel, as_clock
from tests.test_tools import FakeTime, toolbox


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield TimersPanel()


def test_as_clock_rounds_up():
    assert [as_clock(s) for s in (0.2, 59.5, 65, 3723)] == ["0:01", "1:00", "1:05", "1:02:03"]


def test_the_panel_counts_down_and_hides_when_nothing_is_set(tmp_path):
    time = FakeTime()
    box = toolbox(tmp_path, time)

    async def main() -> None:
        app = PanelApp()
        async with app.run_test() as pilot:
            panel = app.query_one(TimersPanel)
            panel.follow(box.countdowns)
            await pilot.pause()
            assert not panel.display
            await box.call(ToolCall("set_timer", {"duration": "5 minutes", "label": "tea"}))
            await box.call(ToolCall("set_alarm", {"time": "7 pm"}))
            await asyncio.sleep(TICK_S * 2)
            assert panel.display and str(panel.render()) == "tea timer  5:00\nalarm      4:55:00"
            time.now += 61
            await asyncio.sleep(TICK_S * 2)
            assert str(panel.render()).startswith("tea timer  3:59")
            await box.call(ToolCall("cancel_timer", {"label": "all"}))
            await asyncio.sleep(TICK_S * 2)
            assert not panel.display

    asyncio.run(main())
