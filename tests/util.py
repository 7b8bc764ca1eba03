"""Shared test constants: paths and the reference transcript of the test speech."""

from __future__ import annotations

from pathlib import Path

from assistant.wer import word_error_rate

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")

__all__ = ["JFK_TEXT", "REPO", "SHARED_DATA", "word_error_rate"]
