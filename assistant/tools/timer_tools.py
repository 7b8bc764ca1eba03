"""The timer and alarm tools, and what the assistant says when one is due."""

from __future__ import annotations

from datetime import timedelta

from assistant.core.tooling import Countdown, ToolError
from assistant.tools.clock import Clock, say_clock, say_duration
from assistant.tools.spoken_numbers import parse_clock, parse_duration
from assistant.tools.timers import Timer, TimerStore

MAX_TIMER_S = 24 * 3600
MISSED_AFTER_S = 60.0  # due longer ago than this: it went off while the assistant was not running


class TimerTools:
    def __init__(self, store: TimerStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def set_timer(self, duration: str, label: str = "") -> str:
        """Start a countdown timer.

        Args:
            duration: how long, in words or digits, e.g. "10 minutes", "1 hour 30 minutes", "90 seconds"
            label: what the timer is for, e.g. "tea" (optional)
        """
        seconds = parse_duration(duration)
        if seconds is None:
            raise ToolError(f"set_timer: cannot read the duration {duration!r} (say e.g. \"10 minutes\")")
        if seconds > MAX_TIMER_S:
            raise ToolError(f"set_timer: {say_duration(seconds)} is too long (at most 24 hours; set an alarm)")
        timer = self._store.add("timer", label, self._clock.now() + seconds, seconds)
        await self._store.save()
        return f"{_title(timer)} set for {say_duration(seconds)}."

    async def set_alarm(self, time: str, label: str = "") -> str:
        """Set an alarm at a clock time, within the next 24 hours.

        Args:
            time: the clock time, e.g. "7:30 am", "18:00", "5 pm"
            label: what the alarm is for (optional)
        """
        clock = parse_clock(time)
        if clock is None:
            raise ToolError(f"set_alarm: cannot read the time {time!r} (say e.g. \"7:30 am\" or \"18:00\")")
        hour, minute, exact = clock
        now = self._clock.local()
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        candidates = [due + timedelta(hours=12 * k) for k in range(3 if not exact and hour < 12 else 1)] + \
                     [due + timedelta(days=1)]
        due = next(moment for moment in candidates if moment > now)  # "at 7" is the next 7 o'clock
        timer = self._store.add("alarm", label, due.timestamp())
        await self._store.save()
        return f"{_title(timer)} set for {say_clock(due)}."

    async def list_timers(self) -> str:
        """List the timers and alarms that are set, with the time left on each."""
        timers = self._store.timers
        if not timers:
            return "No timers or alarms are set."
        return " ".join(self._left(timer) for timer in timers)

    async def time_left(self, label: str = "") -> str:
        """How long until a timer or alarm goes off.

        Args:
            label: which one (optional when only one is set)
        """
        return self._left(self._find("time_left", label))

    async def cancel_timer(self, label: str = "") -> str:
        """Cancel a timer or alarm.

        Args:
            label: which one, e.g. "tea", or "all" (optional when only one is set)
        """
        if label.strip().lower() == "all":
            timers = self._store.timers
            for timer in timers:
                self._store.remove(timer)
            await self._store.save()
            return f"Cancelled {len(timers)} timer{'' if len(timers) == 1 else 's'}." if timers else \
                "No timers or alarms are set."
        timer = self._find("cancel_timer", label)
        self._store.remove(timer)
        await self._store.save()
        return f"{_title(timer)} cancelled."

    def countdowns(self) -> list[Countdown]:
        now = self._clock.now()
        return [Countdown(_name(timer).removeprefix("the "), max(0.0, timer.due - now)) for timer in self._store.timers]

    def announcement(self, timer: Timer) -> str:
        """What to say when `timer` is due (or was due while the assistant was off)."""
        late = self._clock.now() - timer.due
        if late > MISSED_AFTER_S:
            return f"While I was off, {_name(timer)} went off at {say_clock(self._clock.local(timer.due))}."
        if timer.kind == "alarm":
            return f"It's {say_clock(self._clock.local(timer.due))}: {_name(timer)} is going off."
        return f"{_name(timer).capitalize()} is done."

    def _left(self, timer: Timer) -> str:
        left = say_duration(timer.due - self._clock.now())
        if timer.kind == "alarm":
            return f"{_name(timer).capitalize()} goes off at {say_clock(self._clock.local(timer.due))}, in {left}."
        return f"{_name(timer).capitalize()} has {left} left."

    def _find(self, tool: str, label: str) -> Timer:
        timers = self._store.timers
        if not timers:
            raise ToolError(f"{tool}: no timers or alarms are set")
        wanted = label.strip().lower().removesuffix(" timer").removesuffix(" alarm")
        if not wanted or wanted in ("timer", "alarm", "the timer", "my timer"):
            if len(timers) == 1:
                return timers[0]
            raise ToolError(f"{tool}: which one? set: {', '.join(t.label for t in timers)}")
        matches = [t for t in timers if t.label.lower() == wanted] or \
                  [t for t in timers if wanted in t.label.lower()]
        if not matches:
            raise ToolError(f"{tool}: no timer called {label!r} (set: {', '.join(t.label for t in timers)})")
        return matches[0]


def _title(timer: Timer) -> str:
    """"Tea timer", "Timer", "Alarm": as a short reply opens ("Tea timer set for 10 minutes.")."""
    name = _name(timer).removeprefix("the ")
    return name[:1].upper() + name[1:]


def _name(timer: Timer) -> str:
    """"the tea timer", "the timer", "the alarm"."""
    if timer.label.startswith(timer.kind):  # "the timer", "the timer 2"
        return f"the {timer.label}"
    return f"the {timer.label} {timer.kind}"
