"""The timers and alarms that are set, each with a live countdown; hidden while there are none."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Static

from assistant.core.tooling import Countdown

TICK_S = 0.5  # twice a second, so the seconds never skip


def as_clock(seconds: float) -> str:
    """"4:05", "1:02:03": the time left, rounded up (a timer shows 0:01 until it goes off)."""
    whole = int(-(-seconds // 1))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TimersPanel(Static):
    def __init__(self) -> None:
        super().__init__()
        self._source: Callable[[], list[Countdown]] | None = None
        self.display = False

    def follow(self, source: Callable[[], list[Countdown]]) -> None:
        """Show what `source` says is set, refreshed every `TICK_S`."""
        self._source = source
        self.tick()
        self.set_interval(TICK_S, self.tick)

    def tick(self) -> None:
        countdowns = self._source() if self._source else []
        self.display = bool(countdowns)
        width = max((len(countdown.name) for countdown in countdowns), default=0)
        self.update("\n".join(f"{countdown.name:<{width}}  {as_clock(countdown.seconds_left)}"
                              for countdown in countdowns))
