"""The live microphone level and the VAD's speech probability.

MicLevel arrives for every 32 ms frame (and in bursts from some devices). The meter only keeps the peak; a 25 Hz
timer shows it. Readings are rounded (1 dB, 0.1 probability), so a steady room redraws nothing at all.
"""

from __future__ import annotations

from typing import NamedTuple

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

REFRESH_HZ = 25
FLOOR_DB = -60
LABEL, VALUE = "mic  ", " -60 dB"
VAD_CELLS = 10


class Reading(NamedTuple):
    dbfs: int  # FLOOR_DB..0
    probability: int  # tenths, 0..10
    voiced: bool


class LevelMeter(Widget):
    DEFAULT_CSS = """
    LevelMeter { height: auto; }
    """

    reading = reactive(Reading(FLOOR_DB, 0, False))

    def __init__(self, speech_threshold: float) -> None:
        super().__init__()
        self.speech_threshold = speech_threshold
        self._peak_db = float(FLOOR_DB)
        self._peak_probability = 0.0
        self._fresh = False  # a level arrived since the last refresh

    def on_mount(self) -> None:
        self.set_interval(1 / REFRESH_HZ, self._show_peak)

    def show(self, dbfs: float, speech_probability: float) -> None:
        self._peak_db = max(self._peak_db, dbfs)
        self._peak_probability = max(self._peak_probability, speech_probability)
        self._fresh = True

    def _show_peak(self) -> None:
        if not self._fresh:
            return
        self._fresh = False
        self.reading = Reading(round(min(0.0, self._peak_db)), round(self._peak_probability * VAD_CELLS),
                               self._peak_probability >= self.speech_threshold)
        self._peak_db, self._peak_probability = float(FLOOR_DB), 0.0

    def render(self) -> Content:
        dbfs, probability, voiced = self.reading
        cells = max(10, (self.content_size.width or 45) - len(LABEL) - len(VALUE))
        lit = round((dbfs - FLOOR_DB) / -FLOOR_DB * cells)
        loud = max(0, lit - cells * 5 // 6)  # the top 10 dB in the warning colour
        return Content.assemble(
            (LABEL, "bold"), ("█" * (lit - loud), "$success"), ("█" * loud, "$warning"),
            ("░" * (cells - lit), "$foreground 20%"), f" {dbfs:3d} dB\n",
            ("vad  ", "bold"), ("▰" * probability, "$primary-lighten-1"),
            ("▱" * (VAD_CELLS - probability), "$foreground 20%"),
            ("  ● speech" if voiced else "  ○ quiet", "bold $primary-lighten-1" if voiced else "$foreground-muted"))
