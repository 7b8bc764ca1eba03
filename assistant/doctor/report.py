"""The doctor's screen: one labelled line (or a few) per check, printed as each check ends, then the verdict."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

WIDTH = 100
LABEL = 10


@dataclass
class Report:
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what is wrong, how to fix it): cannot run
    notes: list[str] = field(default_factory=list)

    def line(self, label: str, text: str) -> None:
        wrapped = textwrap.wrap(text, WIDTH - LABEL - 1, break_on_hyphens=False, break_long_words=False) or [""]
        print(f"{label:<{LABEL}} {wrapped[0]}", flush=True)
        for more in wrapped[1:]:
            print(f"{'':<{LABEL}}   {more}", flush=True)

    def problem(self, label: str, what: str, fix: str) -> None:
        self.line(label, f"PROBLEM: {what}")
        self.problems.append((what, fix))

    def verdict(self) -> int:
        """0 when the assistant can run; else 2, with the first problem's fix."""
        if not self.problems:
            self.line("verdict", "ready: run `voice-assistant` (or `voice-assistant demo` with no microphone)")
            return 0
        what, fix = self.problems[0]
        more = f" (+{len(self.problems) - 1} more above)" if len(self.problems) > 1 else ""
        self.line("verdict", f"cannot run: {what}{more}")
        self.line("fix", fix)
        return 2
