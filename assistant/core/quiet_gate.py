"""Which microphone frames the VAD model needs to hear. Always listening in a quiet room, nearly every frame is the
room's own noise, and running Silero on each one (31 a second, each a hop to its thread) is the largest share of the
idle CPU. A frame within a few dB of the noise floor is skipped (it counts as silence); anything louder, and
everything for half a second after Silero last heard anything, goes to the model. The frames skipped just before the
one that opens the gate are replayed into the model first, so its recurrent state is close to what it would have
been: on the bench's 22 utterances in three rooms, onsets move by at most one frame (5 of 66), fewer than another
second of the same room noise moves them (13 of 66, by up to three). Pure logic on frame levels.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable

import numpy as np

from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE

FRAMES_PER_S = SAMPLE_RATE / FRAME_SAMPLES


# A dozing microphone (nothing going on, the room at its noise floor) hands its quiet frames over in batches, once
# the oldest is this much older than the newest: 9 frames, so the event loop wakes 3.5 times a second, not 31 (a
# wake-up costs more CPU than all that is done with a quiet frame). A louder frame is handed over at once.
DOZE_S = 0.25


def frame_power(frame: np.ndarray) -> float:
    return float(np.dot(frame, frame)) / len(frame)


def observed_percentile(values: Iterable[float], percent: float) -> float:
    """A percentile that is one of the values (nearest rank below). Unlike interpolation it needs no np.unique,
    whose first call imports numpy.ma: ~30 ms of a conversation's event loop."""
    return float(np.percentile(np.fromiter(values, dtype=np.float64), percent, method="lower"))


class QuietGate:
    """Fed every frame's power and, for those it lets through, the model's speech probability."""

    OPEN_DB = 3.0  # a frame this far over the noise floor goes to the model (soft onsets in a noisy room are no more)
    HEARD = 0.1  # a probability this high (well under any end threshold) keeps the model listening…
    HOLD_FRAMES = round(0.5 * FRAMES_PER_S)  # …for this long after it
    FLOOR_FRAMES = round(5 * FRAMES_PER_S)  # the noise floor: a low percentile of the last 5 s of frames…
    FLOOR_PERCENTILE = 20  # …with no voice in them
    FLOOR_MIN_FRAMES = round(1 * FRAMES_PER_S)  # until a second of that is known, every frame goes to the model
    FLOOR_EVERY = round(FRAMES_PER_S)  # frames between two recomputations of the floor (a percentile is not cheap)
    PRIME_FRAMES = 3  # skipped frames replayed into the model before the one that opens the gate (96 ms)

    def __init__(self) -> None:
        self._quiet: collections.deque[float] = collections.deque(maxlen=self.FLOOR_FRAMES)
        self._skipped: collections.deque[np.ndarray] = collections.deque(maxlen=self.PRIME_FRAMES)
        self._open_above: float | None = None  # the power that opens the gate (None: not known yet)
        self._since_floor = 0
        self._hold = 0
        self.skipped = 0  # frames the model never heard, in all

    def admits(self, frame: np.ndarray, power: float) -> bool:
        """Whether the model must hear this frame; if not, the frame is kept for priming and counts as quiet."""
        if self._hold > 0 or self._open_above is None or power > self._open_above:
            return True
        self._skipped.append(frame)
        self.skipped += 1
        self._learn(power)
        return False

    @property
    def skips_below(self) -> float | None:
        """The next frame is skipped if its power is at most this; None: it goes to the model whatever its level."""
        return self._open_above if self._hold == 0 else None

    def primer(self) -> list[np.ndarray]:
        """The frames skipped just before this admitted one, oldest first, to replay into the model (taken once)."""
        frames = list(self._skipped)
        self._skipped.clear()
        return frames

    def heard(self, power: float, probability: float) -> None:
        """What the model made of an admitted frame."""
        if probability >= self.HEARD:
            self._hold = self.HOLD_FRAMES
            return
        self._hold = max(0, self._hold - 1)
        self._learn(power)

    def _learn(self, power: float) -> None:
        self._quiet.append(power)
        self._since_floor += 1
        if len(self._quiet) >= self.FLOOR_MIN_FRAMES and (self._open_above is None or
                                                          self._since_floor >= self.FLOOR_EVERY):
            floor = observed_percentile(self._quiet, self.FLOOR_PERCENTILE)
            self._open_above = floor * 10 ** (self.OPEN_DB / 10)
            self._since_floor = 0
