"""Speech before thought: while a TTS engine synthesizes, the embedded LLM waits between two tokens.

On a 2-core machine the LLM's thread and the TTS's ONNX threads share the cores. A parallel ONNX op waits for its
slowest thread, so a generating LLM makes Kokoro (2 threads) 2-3x slower, first chunk included. The reply's text is
usually well ahead of its speech, so the LLM loses little by waiting while a sentence is rendered. Process-wide on
purpose: the cores are shared by every engine in the process.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

MAX_WAIT_S = 2.0  # the LLM never waits longer than this per token, whatever the TTS does


class SpeechFirst:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._rendering = 0

    @contextlib.contextmanager
    def rendering(self) -> Iterator[None]:
        """Around one TTS inference (any thread)."""
        with self._changed:
            self._rendering += 1
        try:
            yield
        finally:
            with self._changed:
                self._rendering -= 1
                self._changed.notify_all()

    def wait_for_quiet(self, limit_s: float = MAX_WAIT_S) -> None:
        """On the LLM's thread between two tokens: return once no synthesis runs (or after `limit_s`)."""
        with self._changed:
            self._changed.wait_for(lambda: self._rendering == 0, timeout=limit_s)


SPEECH_FIRST = SpeechFirst()
