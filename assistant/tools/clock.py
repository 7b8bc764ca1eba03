"""The wall clock the tools read (injectable, so tests control time), how times are said, and the time tool."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.errors import ConfigError


@dataclass(frozen=True)
class Clock:
    """Epoch seconds (`now`) in a time zone (None: the system's local one)."""

    now: Callable[[], float] = time.time
    zone: tzinfo | None = field(default=None)

    @classmethod
    def named(cls, zone: str, now: Callable[[], float] = time.time) -> Clock:
        """`zone` is an IANA name ("Europe/Paris"), or "" for the system's local time zone."""
        if not zone:
            return cls(now)
        try:
            return cls(now, ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"[tools] timezone: unknown time zone {zone!r} (hint: an IANA name such as "
                              "\"Europe/Paris\", or \"\" for the system's)") from None

    def local(self, epoch: float | None = None) -> datetime:
        return datetime.fromtimestamp(self.now() if epoch is None else epoch).astimezone(self.zone)


def say_clock(moment: datetime) -> str:
    """"3:05 PM", "7 AM": how the assistant says a clock time (spoken_forms reads it out)."""
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes} {'AM' if moment.hour < 12 else 'PM'}"


def say_duration(seconds: float) -> str:
    """"1 hour 30 minutes", "45 seconds": rounded to the second, largest units first."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((hours, "hour"), (minutes, "minute"),
                                                                    (secs, "second")) if n]
    return " ".join(parts) or "0 seconds"


class TimeTools:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def current_time(self) -> str:
        """The current local time and date."""
        now = self._clock.local()
        return f"It is {say_clock(now)} on {now.strftime('%A, %B')} {now.day}, {now.year}."
