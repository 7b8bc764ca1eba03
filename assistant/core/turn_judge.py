"""Asks the end-of-turn model whether a turn's speech sounds finished: within a timeout, never raising, so a
failed or slow model only makes that turn fall back to the silence hangover."""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

from assistant.core.ports import TurnDetector
from assistant.core.records import TurnDecision

log = logging.getLogger(__name__)


class TurnJudge:
    def __init__(self, detector: TurnDetector | None, timeout_s: float) -> None:
        self._detector = detector
        self._timeout_s = timeout_s

    async def judge(self, audio: np.ndarray) -> tuple[float | None, float]:
        """P(finished) (None: no answer) and the time it took in ms."""
        started = time.perf_counter()
        probability = None
        if self._detector is not None:
            try:
                probability = await asyncio.wait_for(self._detector.completion(audio), self._timeout_s)
            except TimeoutError:
                log.warning("the end-of-turn model took longer than %.0f ms", self._timeout_s * 1000)
            except Exception as error:  # the turn ends by silence instead
                log.warning("the end-of-turn model failed: %s", error)
        return probability, (time.perf_counter() - started) * 1000


def turn_decision(decided_by: str, judgements: list[tuple[float | None, float]]) -> TurnDecision:
    return TurnDecision(decided_by, tuple(score for score, _ in judgements),
                        judgements[-1][1] if judgements else None)
