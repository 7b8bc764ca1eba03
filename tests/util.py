"""Shared test constants: paths and the reference transcript of the test speech."""

from __future__ import annotations

from pathlib import Path

from assistant.wer import word_error_rate

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
FIRST_QUESTION_S, QUESTION_GAP_S = 0.3, 7.7  # where the `questions` fixture puts its questions
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")

__all__ = ["FIRST_QUESTION_S", "JFK_TEXT", "QUESTION_GAP_S", "REPO", "SHARED_DATA", "word_error_rate"]
