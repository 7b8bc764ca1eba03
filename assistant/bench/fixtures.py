"""The benchmark's spoken fixtures, and the input files built from them with ground-truth speech times.

The utterances (and their true onset/offset, measured once on the clean audio) come from
scripts/make-bench-fixtures.py. Placing them on a timeline here keeps every time the bench measures from exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.audio.files import read_speech
from assistant.bench.spans import place
from assistant.core.types import SAMPLE_RATE

FIXTURES = Path(__file__).with_name("fixtures")
LEAD_S = 0.5  # silence before the first utterance
QUESTION_TAIL_S = 1.5  # silence after a question: the reply starts in it
# Cut-ins start this long after the reply is expected to start (the engine's measured median voice-to-voice), so
# they land at different points inside it: mid-word, between words, between sentences.
CUT_IN_AFTER_S = (0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4, 2.7, 3.0, 3.3)
CUT_IN_TAIL_S = 4.0
# Mid-sentence pauses inserted into utterances: one below the old fixed 480 ms hangover, two above it.
PAUSES_MS = (400, 650, 900)


@dataclass(frozen=True)
class Utterance:
    file: str
    voice: str
    text: str
    speech_start_s: float
    speech_end_s: float

    def samples(self) -> np.ndarray:
        return read_speech(FIXTURES / self.file)


@dataclass(frozen=True)
class QuestionInput:
    utterance: Utterance
    path: Path
    speech_end_s: float  # true end of the question on the input timeline


@dataclass(frozen=True)
class BargeInInput:
    prompt: Utterance
    cut_in: Utterance
    path: Path
    cut_in_onset_s: float  # true onset of the interrupting speech on the input timeline


@dataclass(frozen=True)
class PauseInput:
    utterance: Utterance
    words: tuple[str, str]  # what is said before the pause, and after it
    pause_ms: int
    path: Path
    resume_s: float  # when the speech after the pause starts, on the input timeline
    speech_end_s: float  # true end of the whole utterance


def _manifest() -> dict:
    return json.loads((FIXTURES / "manifest.json").read_text())


def load_manifest() -> dict[str, list[Utterance]]:
    """The utterance groups: questions, long_reply (prompts for long replies) and cut_ins."""
    return {group: [Utterance(**item) for item in items] for group, items in _manifest().items()
            if group != "paused_questions"}


def question_inputs(folder: Path, limit: int | None = None) -> list[QuestionInput]:
    """One input file per question: lead silence, the question, then silence for the reply."""
    inputs = []
    for index, utterance in enumerate(load_manifest()["questions"][:limit]):
        samples = utterance.samples()
        path = folder / f"question-{index:02d}.wav"
        place([(LEAD_S, samples)], LEAD_S + len(samples) / SAMPLE_RATE + QUESTION_TAIL_S, path)
        inputs.append(QuestionInput(utterance, path, LEAD_S + utterance.speech_end_s))
    return inputs


def pause_points() -> list[dict]:
    """Where each utterance with a clean word gap may be paused: {file, split_s, before, after}."""
    return _manifest()["paused_questions"]


def pause_inputs(folder: Path, limit: int | None = None, pauses_ms: tuple[int, ...] = PAUSES_MS) -> list[PauseInput]:
    """Utterances with a pause inserted at a word gap (scripts/mark-pause-points.py found them): one input per
    utterance and pause length."""
    manifest = _manifest()
    by_file = {item["file"]: Utterance(**item) for group in ("questions", "long_reply", "cut_ins")
               for item in manifest[group]}
    inputs = []
    for index, split in enumerate(pause_points()[:limit]):
        utterance = by_file[split["file"]]
        samples, cut = utterance.samples(), int(split["split_s"] * SAMPLE_RATE)
        for pause_ms in pauses_ms:
            resume_s = LEAD_S + split["split_s"] + pause_ms / 1000
            path = folder / f"paused-{index:02d}-{pause_ms}.wav"
            total_s = resume_s + (len(samples) - cut) / SAMPLE_RATE + QUESTION_TAIL_S
            place([(LEAD_S, samples[:cut]), (resume_s, samples[cut:])], total_s, path)
            inputs.append(PauseInput(utterance, (split["before"], split["after"]), pause_ms, path, resume_s,
                                     resume_s + utterance.speech_end_s - split["split_s"]))
    return inputs


def barge_in_inputs(folder: Path, reply_start_s: float, limit: int | None = None) -> list[BargeInInput]:
    """One input file per cut-in: a prompt that draws a long reply, then the cut-in at a varied moment of the
    reply, which is expected to start `reply_start_s` after the prompt ends."""
    manifest = load_manifest()
    prompts, inputs = manifest["long_reply"], []
    prompt_audio = [prompt.samples() for prompt in prompts]  # each read once, used for several cut-ins
    for index, (cut_in, after) in enumerate(list(zip(manifest["cut_ins"], CUT_IN_AFTER_S, strict=True))[:limit]):
        prompt, prompt_samples = prompts[index % len(prompts)], prompt_audio[index % len(prompts)]
        cut_samples = cut_in.samples()
        cut_at = LEAD_S + prompt.speech_end_s + reply_start_s + after - cut_in.speech_start_s
        path = folder / f"barge-in-{index:02d}.wav"
        total_s = cut_at + len(cut_samples) / SAMPLE_RATE + CUT_IN_TAIL_S
        place([(LEAD_S, prompt_samples), (cut_at, cut_samples)], total_s, path)
        inputs.append(BargeInInput(prompt, cut_in, path, cut_at + cut_in.speech_start_s))
    return inputs
