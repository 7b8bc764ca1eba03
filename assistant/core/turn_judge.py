"""Asks whether a turn's speech is finished: the end-of-turn model hears the sound, the words cue reads the
transcript. Each within a timeout, never raising, so a failed or slow one only leaves the other (or, with neither,
the silence hangover) to decide.

How the two cues make one answer (`finished`): Smart Turn is the judge, except where the words are clear. Words
that cannot end a message ("what is the capital") wait out the pause however finished they sound (a question
spoken in two breaths sounds finished at its first), and words that plainly do ("what is the capital of france")
end the turn however unfinished they sound (two sentences in one turn sound unfinished after the first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import numpy as np

from assistant.config import TurnConfig
from assistant.core.ports import TurnDetector, WordsEndDetector
from assistant.core.records import Judgement, TurnDecision

log = logging.getLogger(__name__)


class TurnJudge:
    def __init__(self, detector: TurnDetector | None, words: WordsEndDetector | None, config: TurnConfig) -> None:
        self._detector = detector
        self._words = words
        self._config = config

    async def judge(self, audio: np.ndarray, transcript: Callable[[], Awaitable[str | None]] | None) -> Judgement:
        """Both cues at once: the sound from `audio`, the words once `transcript()` is in."""
        started = time.perf_counter()
        sound_task = asyncio.ensure_future(self._sound(audio))
        words = await self._read(transcript)
        sound = await sound_task
        return Judgement(sound, words, (time.perf_counter() - started) * 1000)

    def finished(self, judgement: Judgement) -> bool | None:
        """Is the turn over (None: neither cue answered)?"""
        words, config = judgement.words, self._config
        if words is not None and words < config.words_unfinished_below:
            return False
        if words is not None and words >= config.words_finished_at:
            return True
        return None if judgement.sound is None else judgement.sound >= config.complete_threshold

    async def _sound(self, audio: np.ndarray) -> float | None:
        if self._detector is None:
            return None
        return await self._ask("the end-of-turn model", self._detector.completion(audio))

    async def _read(self, transcript: Callable[[], Awaitable[str | None]] | None) -> float | None:
        if self._words is None or transcript is None:
            return None
        words = self._words

        async def score() -> float | None:
            text = await transcript()
            return await words.finished(text) if text else None

        return await self._ask("the words cue", score())

    async def _ask(self, what: str, answer: Awaitable[float | None]) -> float | None:
        try:
            return await asyncio.wait_for(answer, self._config.timeout_ms / 1000)
        except TimeoutError:
            log.warning("%s took longer than %d ms", what, self._config.timeout_ms)
        except Exception as error:  # the other cue, or the silence, decides instead
            log.warning("%s failed: %s", what, error)
        return None


def turn_decision(decided_by: str, judgements: list[Judgement]) -> TurnDecision:
    return TurnDecision(decided_by, tuple(j.sound for j in judgements),
                        judgements[-1].model_ms if judgements else None, tuple(j.words for j in judgements))
