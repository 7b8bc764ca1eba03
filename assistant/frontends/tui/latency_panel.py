"""The last turn's latency as a waterfall of stages after the user stopped speaking, and the session's p50/p95."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from assistant.core.records import Outcome, Stage, TurnDecision, TurnRecord
from assistant.frontends.tui.percentiles import RollingPercentiles

# (label, stage, colour), in the order they happen after the end of speech
STAGES = (("end of turn", Stage.END_OF_TURN, "$foreground-muted"),
          ("transcript", Stage.STT_FINAL, "$primary-lighten-1"),
          ("first token", Stage.LLM_FIRST_TOKEN, "$accent"),
          ("first speech", Stage.FIRST_TTS_CHUNK, "$success-darken-2"),
          ("first audio", Stage.FIRST_AUDIO, "$success"))
LABEL_WIDTH, VALUE_WIDTH, MIN_BAR_WIDTH = 13, 8, 6


class LatencyPanel(Widget):
    DEFAULT_CSS = """
    LatencyPanel { height: auto; }
    """

    record = reactive[TurnRecord | None](None, layout=True, always_update=True)  # the stats change with it

    def __init__(self) -> None:
        super().__init__()
        self.voice_to_voice = RollingPercentiles()
        self.barge_in = RollingPercentiles()

    def add_turn(self, record: TurnRecord) -> None:
        """Take a finished turn's record; turns in which nobody spoke leave the panel as it is."""
        if Stage.SPEECH_END not in record.times_ms or record.outcome == Outcome.NO_SPEECH:
            return
        # Only answers to speech: a typed turn has no voice in, a failed one only a spoken notice out.
        spoken = Stage.STT_FINAL in record.times_ms and record.outcome in (Outcome.REPLIED, Outcome.INTERRUPTED)
        if spoken and record.voice_to_voice_ms is not None:
            self.voice_to_voice.add(record.voice_to_voice_ms)
        if record.barge_in_ms is not None:
            self.barge_in.add(record.barge_in_ms)
        self.record = record

    def render(self) -> Content:
        if self.record is None:
            return Content.styled("no turn yet: latencies show here after the first reply", "$foreground-muted")
        bar_width = max(MIN_BAR_WIDTH, (self.content_size.width or 45) - LABEL_WIDTH - VALUE_WIDTH)
        return Content("\n").join([*self._waterfall(self.record, bar_width), Content(""), *self._session(bar_width)])

    def _waterfall(self, record: TurnRecord, bar_width: int) -> list[Content]:
        times = record.times_ms
        end = times[Stage.SPEECH_END]
        offsets = [times[stage] - end if stage in times else None for _, stage, _ in STAGES]
        scale = max([o for o in offsets if o is not None] + [1.0]) / bar_width
        typed = Stage.STT_FINAL not in times
        title = f"turn {record.turn} (typed): ms after you sent it" if typed else (
            f"turn {record.turn}: ms after you stopped")
        lines = [Content.styled(title, "bold")]
        previous = 0.0  # each bar starts where the stage before it ended
        for (label, _, colour), offset in zip(STAGES, offsets, strict=True):
            if offset is None:
                lines.append(Content.assemble(label.ljust(LABEL_WIDTH), ("—".rjust(bar_width + VALUE_WIDTH),
                                                                          "$foreground-muted")))
                continue
            start = min(bar_width - 1, round(max(previous, 0.0) / scale))
            stop = max(start + 1, round(offset / scale))  # a stage that took no time still shows
            lines.append(Content.assemble(label.ljust(LABEL_WIDTH), " " * start, ("█" * (stop - start), colour),
                                          " " * (bar_width - stop), f"{offset:.0f}".rjust(VALUE_WIDTH)))
            previous = max(previous, offset)
        summary: list[str | tuple[str, str]] = [("voice-to-voice ", "bold"), _ms(record.voice_to_voice_ms)]
        if record.barge_in_ms is not None:
            summary += [("   barge-in ", "bold"), _ms(record.barge_in_ms)]
        if gaps := record.stutter_gaps_ms:  # the speaker waited for speech inside the reply
            summary += [("   stutter ", "bold"), (f"{len(gaps)}× {sum(gaps):.0f} ms", "$warning")]
        lines.append(Content.assemble(*summary))
        if record.end_of_turn is not None:
            lines.append(Content.assemble(("end of turn ", "bold"), _decision(record.end_of_turn)))
        return lines

    def _session(self, bar_width: int) -> list[Content]:
        header = f"session: {len(self.voice_to_voice)} spoken turn{'s' * (len(self.voice_to_voice) != 1)}"
        lines = [Content.assemble((header.ljust(LABEL_WIDTH + bar_width - 7), "bold"), ("p50".rjust(7), "bold"),
                                  ("p95".rjust(VALUE_WIDTH), "bold"))]
        for label, stats in (("voice-to-voice", self.voice_to_voice), ("barge-in", self.barge_in)):
            p50, p95 = stats.percentile(50), stats.percentile(95)
            lines.append(Content.assemble(label.ljust(LABEL_WIDTH + bar_width - 7), _value(p50).rjust(7),
                                          _value(p95).rjust(VALUE_WIDTH)))
        return lines


def _decision(decision: TurnDecision) -> str:
    """Why the turn ended when it did: "model 0.97 (1 of 2 checks, 98 ms)", "pause limit (0.21)", …"""
    said = {"model": "the judges found it finished", "pause limit": "the longest pause was over",
            "silence": "the silence hangover", "key": "the key"}.get(decision.decided_by, decision.decided_by)
    detail = [f"{label} {_scores(scores)}" for label, scores in (("sound", decision.scores),
                                                                  ("words", decision.word_scores))
              if any(score is not None for score in scores)]
    if detail and decision.model_ms:
        detail.append(f"{decision.model_ms:.0f} ms")
    return said + (f" ({'; '.join(detail)})" if detail else "")


def _scores(scores: tuple[float | None, ...]) -> str:
    return ", ".join("—" if score is None else f"{score:.2f}" for score in scores)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def _value(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"
