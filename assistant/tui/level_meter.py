"""The live microphone level and the VAD's speech probability.

MicLevel arrives for every 32 ms frame (and in bursts from some devices). The meter keeps the peak since its last
refresh and refreshes at most 30 times a second; readings are quantized to whole cells, so a steady room redraws
nothing at all.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

MAX_REFRESH_HZ = 30
FLOOR_DB = -60.0
LEVEL_CELLS = 30
VAD_CELLS = 10


class Reading(NamedTuple):
    level: int  # cells lit, 0..LEVEL_CELLS, FLOOR_DB..0 dBFS
    probability: int  # cells lit, 0..VAD_CELLS
    voiced: bool


class LevelMeter(Widget):
    DEFAULT_CSS = """
    LevelMeter { height: 2; }
    """

    reading = reactive(Reading(0, 0, False))

    def __init__(self, speech_threshold: float) -> None:
        super().__init__()
        self.speech_threshold = speech_threshold
        self._peak_db = FLOOR_DB
        self._peak_probability = 0.0
        self._shown_at = 0.0

    def show(self, dbfs: float, speech_probability: float) -> None:
        self._peak_db = max(self._peak_db, dbfs)
        self._peak_probability = max(self._peak_probability, speech_probability)
        now = time.monotonic()
        if now - self._shown_at < 1 / MAX_REFRESH_HZ:
            return
        self._shown_at = now
        level = round((min(self._peak_db, 0.0) - FLOOR_DB) / -FLOOR_DB * LEVEL_CELLS)
        self.reading = Reading(max(0, level), round(self._peak_probability * VAD_CELLS),
                               self._peak_probability >= self.speech_threshold)
        self._peak_db, self._peak_probability = FLOOR_DB, 0.0

    def render(self) -> Content:
        level, probability, voiced = self.reading
        db = FLOOR_DB + level * -FLOOR_DB / LEVEL_CELLS
        loud = max(0, level - LEVEL_CELLS * 5 // 6)  # the top 10 dB in the warning colour
        return Content.assemble(
            ("mic  ", "bold"), ("█" * (level - loud), "$success"), ("█" * loud, "$warning"),
            ("░" * (LEVEL_CELLS - level), "$text-muted 30%"), f" {db:4.0f} dB\n",
            ("vad  ", "bold"), ("▰" * probability, "$accent"), ("▱" * (VAD_CELLS - probability), "$text-muted 30%"),
            ("  ● speech" if voiced else "  ○ quiet", "bold $accent" if voiced else "$text-muted"))
