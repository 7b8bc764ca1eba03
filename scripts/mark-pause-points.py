#!/usr/bin/env python3
"""Mark where each benchmark utterance can be split by a mid-sentence pause (`paused_questions` in manifest.json).

    python scripts/mark-pause-points.py      (needs the Whisper model in the models folder)

For each utterance, Whisper's word timestamps give the gaps between words. Each gap's candidate split point is its
quietest 10 ms (the gap widened by 40 ms each side, since word timestamps are approximate). A stop's closure is
quiet too, so a candidate is kept only if Whisper hears the word before it at the end of the audio before it, and
the word after it at the start of the audio after it: inserting silence there never cuts a word in two. The kept
split nearest the middle wins; gaps after a comma or a full stop are skipped (a pause there may end the turn).
The bench inserts 300–900 ms of silence at the split point: the user pauses mid-sentence ("What is the capital …
of France?"), and a reply that starts before their last word is premature.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.transcribe import Word

from assistant.bench.wer import normalized_words
from assistant.config import Config
from assistant.core.types import SAMPLE_RATE
from assistant.engines.models import require

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "assistant" / "bench" / "fixtures"
SLACK_S = 0.04
STEP = SAMPLE_RATE // 100  # 10 ms


def quietest_point(audio: np.ndarray, start_s: float, end_s: float) -> float:
    first, last = int((start_s - SLACK_S) * SAMPLE_RATE), int((end_s + SLACK_S) * SAMPLE_RATE)
    windows = [(float(np.sqrt(np.mean(audio[at:at + STEP] ** 2))), at) for at in range(first, last - STEP, STEP)]
    return (min(windows)[1] + STEP // 2) / SAMPLE_RATE


def transcript(whisper: WhisperModel, audio: np.ndarray) -> str:
    segments, _ = whisper.transcribe(audio, language="en", beam_size=1, without_timestamps=True)
    return " ".join(segment.text for segment in segments)


def clean_split(whisper: WhisperModel, audio: np.ndarray, words: list[Word], index: int) -> float | None:
    """Where to pause before `words[index]`, if that never cuts a word in two."""
    if words[index - 1].word.rstrip()[-1:] in ",.?!":  # a pause after a clause may well end the turn
        return None
    heard = normalized_words(" ".join(word.word for word in words))
    at = quietest_point(audio, words[index - 1].end, words[index].start)
    split = int(at * SAMPLE_RATE)
    before, after = (normalized_words(transcript(whisper, part)) for part in (audio[:split], audio[split:]))
    return at if before[-1:] == heard[index - 1:index] and after[:1] == heard[index:index + 1] else None


def pause_point(whisper: WhisperModel, audio: np.ndarray) -> tuple[int, float] | None:
    """The clean split nearest the middle: how many words come before it, and its time."""
    segments, _ = whisper.transcribe(audio, language="en", word_timestamps=True, beam_size=1)
    words = [word for segment in segments for word in (segment.words or [])]
    for index in sorted(range(1, len(words)), key=lambda i: abs(i - len(words) / 2)):
        if (at := clean_split(whisper, audio, words, index)) is not None:
            return index, at
    return None


def main() -> None:
    from assistant.audio.files import read_speech

    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    whisper = WhisperModel(str(require("tiny.en", Config().models_dir)), device="cpu", compute_type="int8")
    paused = []
    for utterance in manifest["questions"] + manifest["long_reply"] + manifest["cut_ins"]:
        if utterance["file"] == "questions-jfk.flac":  # it has long pauses of its own
            continue
        found = pause_point(whisper, read_speech(FIXTURES / utterance["file"]))
        if found is None:
            print(f"{utterance['file']}: no clean word gap")
            continue
        split, at = found
        said = utterance["text"].split()  # Whisper's words locate the gap; the reference says what was said
        paused.append({"file": utterance["file"], "split_s": round(at, 3),
                       "before": " ".join(said[:split]), "after": " ".join(said[split:])})
        print(f"{utterance['file']}: {paused[-1]['before']!r} | {paused[-1]['after']!r} at {at:.3f} s")
    manifest["paused_questions"] = paused
    (FIXTURES / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
