#!/usr/bin/env python3
"""Make the benchmark's spoken fixtures: questions, long-reply prompts and cut-ins, with ground-truth timing.

    python scripts/make-bench-fixtures.py      (needs `espeak-ng` on PATH and the Kokoro models in models/)

Voices are never the assistant's own reply voice (af_heart): Kokoro's other voices and espeak-ng's. tests/data/jfk.flac
is included as the one recorded human voice. Each utterance is written as 16 kHz FLAC,
and its true speech onset/offset (measured once on this clean audio) goes into manifest.json; the bench places
utterances on a timeline itself, so every onset it measures from is known exactly.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path

import soundfile

from assistant.audio.files import read_speech, resample
from assistant.bench.spans import active_span
from assistant.config import Config, ModelsConfig
from assistant.core.types import SAMPLE_RATE
from assistant.engines.tts import load_kokoro

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "assistant" / "bench" / "fixtures"
JFK = REPO / "tests" / "data" / "jfk.flac"
JFK_TEXT = ("And so, my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")
JFK_SPEECH_END_S = 10.45  # measured once by ear and envelope: crowd noise follows the last word

# (voice, text): "kokoro:<voice>" or "espeak:<voice>"; lengths from three words to a long sentence.
QUESTIONS = [
    ("kokoro:am_michael", "What is the capital of France?"),
    ("kokoro:bf_emma", "How many legs does a spider have?"),
    ("kokoro:bm_george", "Can you suggest a name for my new puppy?"),
    ("kokoro:af_bella", "What should I cook for dinner tonight?"),
    ("kokoro:am_adam", "Why is the sky blue?"),
    ("kokoro:bf_emma", "I am planning a trip to Japan next spring. Which city should I visit first?"),
    ("kokoro:am_michael", "Good morning."),
    ("espeak:en-us+m3", "What time does the sun set in winter?"),
    ("espeak:en-gb+f3", "How do I make a cup of tea?"),
    ("espeak:en-gb-scotland", "Tell me a fun fact about the ocean."),
    ("espeak:en-029+m2", "What is the tallest mountain in the world?"),
    ("espeak:en-us+f2", "Could you give me a quick tip for sleeping better at night?"),
]
# Prompts that draw a long reply, to be cut into.
LONG_REPLY = [
    ("kokoro:bm_george", "Tell me a long story about a brave knight and a dragon."),
    ("kokoro:am_adam", "Explain in detail how a car engine works."),
]
CUT_INS = [
    ("kokoro:af_bella", "Stop, what time is it?"),
    ("kokoro:am_michael", "Wait, wait."),
    ("kokoro:bf_emma", "Hold on a second."),
    ("kokoro:bm_george", "Actually, never mind."),
    ("kokoro:am_adam", "Sorry, can I ask something else?"),
    ("espeak:en-us+m3", "Okay, thanks."),
    ("espeak:en-gb+f3", "No, that is not what I meant."),
    ("kokoro:af_bella", "Hey, one more thing."),
    ("espeak:en-029+m2", "Excuse me."),
    ("kokoro:am_michael", "Let me stop you there."),
]


def kokoro_speaker():
    config = dataclasses.replace(Config(), models=ModelsConfig(dir=str(REPO / "models")))
    voices = {}

    def speak(voice: str, text: str):
        if voice not in voices:
            voices[voice] = load_kokoro(dataclasses.replace(config, tts=dataclasses.replace(
                config.tts, kokoro=dataclasses.replace(config.tts.kokoro, voice=voice))))
        engine = voices[voice]
        return resample(engine.render_blocking(text), engine.sample_rate, SAMPLE_RATE)

    return speak


def espeak(voice: str, text: str):
    with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "160", "-w", wav.name, text], check=True)
        return read_speech(wav.name)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    speak_kokoro = kokoro_speaker()
    manifest: dict[str, list[dict]] = {"questions": [], "long_reply": [], "cut_ins": []}
    for group, items in (("questions", QUESTIONS), ("long_reply", LONG_REPLY), ("cut_ins", CUT_INS)):
        for index, (voice, text) in enumerate(items):
            engine, name = voice.split(":")
            samples = speak_kokoro(name, text) if engine == "kokoro" else espeak(name, text)
            onset, offset = active_span(samples, SAMPLE_RATE)
            file = f"{group}-{index:02d}.flac"
            soundfile.write(str(OUT / file), samples, SAMPLE_RATE)
            manifest[group].append({"file": file, "voice": voice, "text": text,
                                    "speech_start_s": round(onset, 3), "speech_end_s": round(offset, 3)})
    jfk = read_speech(JFK)
    soundfile.write(str(OUT / "questions-jfk.flac"), jfk, SAMPLE_RATE)
    onset, _ = active_span(jfk, SAMPLE_RATE)
    manifest["questions"].append({"file": "questions-jfk.flac", "voice": "recorded:jfk", "text": JFK_TEXT,
                                  "speech_start_s": round(onset, 3), "speech_end_s": JFK_SPEECH_END_S})
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{sum(len(v) for v in manifest.values())} utterances in {OUT}")


if __name__ == "__main__":
    main()
