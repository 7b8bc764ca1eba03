"""Is there an echo path at all? With headphones there is none, and the echo canceller only gets in the way: AEC3
holds back the start of speech that begins over its loudspeaker signal, and the settling guard turns the microphone
down for the first second a session plays, so cutting in is slow (the bench: 265 / 803 ms p50 / p95, against
18 / 40 ms with the canceller off).

Every time the speaker has played `WINDOW_FRAMES` loud 10 ms frames, the microphone's level during them is
compared with its level in the quiet (the speaker silent long enough for any echo to have died away): an echo path
raises it, frame after frame. If almost none was raised, there is no echo path, and the VAD hears the microphone
itself; if most were, there is one (again), and it hears the canceller's output. Between the two, or before the
first verdict, nothing changes: the canceller's output is the safe default. A user who talks over a whole window
raises it too, so talking can only keep the canceller in.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from assistant.audio.echo_canceller import AEC_FRAME, EchoCanceller
from assistant.core.quiet_gate import observed_percentile
from assistant.core.types import SAMPLE_RATE

FRAME_S = AEC_FRAME / SAMPLE_RATE


def _power(db: float) -> float:
    return 10 ** (db / 10)


class EchoPresence:
    """Fed every 10 ms frame of microphone and reference; `echo_free` says whether no echo path was found."""

    SOUNDING = _power(-50)  # a reference frame quieter than this is silence between replies
    LOUD = _power(-30)  # a reference frame this loud raises the microphone if any audible echo path exists
    QUIET_AFTER_S = 0.3  # the speaker silent this long: its echo (delay and reverberation) has died away
    RAISED_DB = 6.0  # over the quiet level: room noise varies less than this from one 10 ms frame to the next
    FLOOR_MIN = _power(-80)  # a digitally silent microphone still has a level to compare with
    WINDOW_FRAMES = 30  # loud reference frames per verdict (0.3 s of sound)
    ECHO_FREE_AT_MOST = 0.1  # of them raised: no echo path
    ECHO_AT_LEAST = 0.5  # of them raised: an echo path (echo delayed by up to half the window still shows)
    QUIET_HISTORY_FRAMES = 500  # the quiet level is a low percentile of the last 5 s of quiet frames…
    QUIET_PERCENTILE = 5  # …low enough to fall between the words of a user who talked all that time
    QUIET_MIN_FRAMES = 50  # before 0.5 s of quiet is known, nothing is decided

    def __init__(self) -> None:
        self.echo_free = False
        self._quiet: collections.deque[float] = collections.deque(maxlen=self.QUIET_HISTORY_FRAMES)
        self._since_sound = math.inf  # frames since the reference last had sound
        self._threshold: float | None = None  # the raised level, for the window being counted
        self._loud = self._raised = 0

    def observe(self, near: np.ndarray, far: np.ndarray) -> None:
        """Whole 10 ms frames of both, at the same moments."""
        if not np.count_nonzero(far):  # the speaker idle (most of the time): only the quiet level to keep up, cheaply
            quiet_from = self._since_sound
            self._since_sound += len(far) // AEC_FRAME
            quiet = near.reshape(-1, AEC_FRAME)[max(0, math.ceil(self.QUIET_AFTER_S / FRAME_S) - quiet_from - 1):]
            self._quiet.extend((np.einsum("ij,ij->i", quiet, quiet) / AEC_FRAME).tolist())
            return
        near_power = np.mean(near.reshape(-1, AEC_FRAME) ** 2, axis=1)
        far_power = np.mean(far.reshape(-1, AEC_FRAME) ** 2, axis=1)
        for heard, played in zip(near_power.tolist(), far_power.tolist(), strict=True):
            self._since_sound = 0 if played > self.SOUNDING else self._since_sound + 1
            if self._since_sound * FRAME_S >= self.QUIET_AFTER_S:
                self._quiet.append(heard)
            elif played >= self.LOUD and len(self._quiet) >= self.QUIET_MIN_FRAMES:
                self._count(heard)

    def _count(self, heard: float) -> None:
        if self._threshold is None:  # a new window: the quiet level as it is now
            floor = max(observed_percentile(self._quiet, self.QUIET_PERCENTILE), self.FLOOR_MIN)
            self._threshold = floor * 10 ** (self.RAISED_DB / 10)
        self._loud += 1
        self._raised += heard > self._threshold
        if self._loud < self.WINDOW_FRAMES:
            return
        share = self._raised / self._loud
        if share <= self.ECHO_FREE_AT_MOST:
            self.echo_free = True
        elif share >= self.ECHO_AT_LEAST:
            self.echo_free = False
        self._threshold, self._loud, self._raised = None, 0, 0


class EchoFreeBypass:
    """An `EchoCanceller` around another: its output while there may be an echo path, the microphone itself once
    none is found. The inner one keeps running either way, so it is ready should an echo path appear (headphones
    unplugged): the first 0.3 s of sound after that reach the VAD uncancelled."""

    def __init__(self, canceller: EchoCanceller) -> None:
        self._canceller = canceller
        self.presence = EchoPresence()

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        cleaned = self._canceller.process(near, far)
        self.presence.observe(near, far)
        return near.astype(np.float32, copy=True) if self.presence.echo_free else cleaned
