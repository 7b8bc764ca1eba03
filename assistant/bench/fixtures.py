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


def load_manifest() -> dict[str, list[Utterance]]:
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    return {group: [Utterance(**item) for item in items] for group, items in manifest.items()}


def question_inputs(folder: Path, limit: int | None = None) -> list[QuestionInput]:
    """One input file per question: lead silence, the question, then silence for the reply."""
    inputs = []
    for index, utterance in enumerate(load_manifest()["questions"][:limit]):
        samples = utterance.samples()
        path = folder / f"question-{index:02d}.wav"
        place([(LEAD_S, samples)], LEAD_S + len(samples) / SAMPLE_RATE + QUESTION_TAIL_S, path)
        inputs.append(QuestionInput(utterance, path, LEAD_S + utterance.speech_end_s))
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
