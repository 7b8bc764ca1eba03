"""Rolling percentiles over the last few values (a session's latencies)."""

from __future__ import annotations

import math
from collections import deque


class RollingPercentiles:
    def __init__(self, size: int = 100) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def add(self, value: float) -> None:
        self._values.append(value)

    def __len__(self) -> int:
        return len(self._values)

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile: a value that really occurred, and honest with a handful of turns."""
        if not self._values:
            return None
        ordered = sorted(self._values)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]
