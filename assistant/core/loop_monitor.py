"""The event-loop stall monitor: how late a ticker that should wake every few ms actually wakes."""

from __future__ import annotations

import asyncio
import time

import numpy as np


class LoopMonitor:
    """Measures event-loop stalls: a ticker that should wake every `interval` records how late it woke."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.lateness: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="loop-monitor")

    async def _tick(self) -> None:
        while True:
            expected = time.monotonic() + self.interval
            await asyncio.sleep(self.interval)
            self.lateness.append(max(0.0, time.monotonic() - expected))

    def stop(self) -> None:
        if self._task:
            self._task.cancel()

    def summary_ms(self) -> dict[str, float]:
        if not self.lateness:
            return {"max": 0.0, "p99": 0.0}
        late = np.array(self.lateness) * 1000
        return {"max": round(float(late.max()), 1), "p99": round(float(np.percentile(late, 99)), 1)}
