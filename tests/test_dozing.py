"""Dozing while nothing goes on: most of an idle session's CPU is waking the event loop for each 32 ms frame of a
quiet room, so the microphone then hands quiet frames over a few times a second. Anything louder than the room comes
at once, and so does everything while a turn is heard or answered. (The sound-card microphone: tests/test_devices.)
"""

import asyncio
import dataclasses
import statistics
import subprocess
import sys
import time

import numpy as np
import soundfile

from assistant.audio.wav import WavMicrophone
from assistant.bench.spans import place, sound_times
from assistant.bench.wer import word_error_rate
from assistant.core.quiet_gate import QuietGate, frame_power
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE
from assistant.frontends.duplex import run_duplex
from tests.util import REPO

ROOM_DBFS = -60.0


def room(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 10 ** (ROOM_DBFS / 20), int(seconds * SAMPLE_RATE)).astype(np.float32)


def test_a_dozing_file_microphone_gives_the_same_frames_in_batches_and_a_sound_at_once(tmp_path):
    audio = room(3.0)
    tone_at = int(1.5 * SAMPLE_RATE)
    audio[tone_at:tone_at + SAMPLE_RATE // 4] += 0.1 * np.sin(np.arange(SAMPLE_RATE // 4) * 0.2).astype(np.float32)
    soundfile.write(str(tmp_path / "in.wav"), audio, SAMPLE_RATE, subtype="FLOAT")
    wake_above = 10 ** ((ROOM_DBFS + 10) / 10)

    async def frames(doze: bool) -> list[tuple[int, np.ndarray, float]]:
        microphone, got = WavMicrophone(tmp_path / "in.wav"), []
        microphone.doze(wake_above if doze else None)
        async for frame in microphone.frames():
            got.append((frame.start, frame.samples, time.monotonic() - microphone.time_of(frame.start + 512)))
            if frame.start + FRAME_SAMPLES >= len(audio):
                return got
        raise AssertionError("the file ended early")

    plain, dozing = asyncio.run(frames(False)), asyncio.run(frames(True))
    assert [start for start, *_ in dozing] == [start for start, *_ in plain]
    assert all(np.array_equal(a, b) for (_, a, _), (_, b, _) in zip(plain, dozing, strict=True))
    loud = [i for i, (_, samples, _) in enumerate(dozing) if frame_power(samples) > wake_above]
    assert loud and loud[0] == tone_at // FRAME_SAMPLES
    assert max(late for *_, late in plain) < 0.03
    assert max(dozing[i][2] for i in loud) < 0.03  # a sound never waits…
    assert statistics.median(late for i, (*_, late) in enumerate(dozing) if i not in loud) > 0.08  # …the room does


def test_the_quiet_gate_says_below_what_it_skips_and_nothing_while_it_listens():
    gate = QuietGate()
    quiet = room(2.0)
    frames = [quiet[i:i + FRAME_SAMPLES] for i in range(0, len(quiet) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]
    for frame in frames[:QuietGate.FLOOR_MIN_FRAMES]:
        assert gate.skips_below is None  # the floor not known yet: every frame goes to the model
        assert gate.admits(frame, frame_power(frame))
        gate.heard(frame_power(frame), 0.01)
    threshold = gate.skips_below
    assert threshold is not None and threshold > statistics.median(frame_power(f) for f in frames)
    assert not gate.admits(frames[-1], frame_power(frames[-1]))  # at the floor: skipped, as it said
    assert gate.admits(frames[-1] * 10, frame_power(frames[-1] * 10))  # louder: goes to the model
    gate.heard(frame_power(frames[-1] * 10), 0.9)  # …which heard a voice: it listens to everything for a while
    assert gate.skips_below is None


def test_learning_the_rooms_level_imports_nothing_on_the_event_loop():
    # np.percentile's interpolation calls np.unique, whose first call imports numpy.ma: ~30 ms of the loop, mid-turn
    learn = """
import sys
import numpy as np
from assistant.audio.echo_presence import EchoPresence
from assistant.core.quiet_gate import QuietGate
loaded = set(sys.modules)
gate, presence = QuietGate(), EchoPresence()
for _ in range(2 * QuietGate.FLOOR_MIN_FRAMES):
    gate.heard(1e-6, 0.0)
quiet = np.full(16000, 1e-3, dtype=np.float32)  # a second of the room, then one of the speaker loud: no echo
presence.observe(quiet, np.zeros_like(quiet))
presence.observe(quiet, np.full_like(quiet, 0.1))
assert gate.skips_below is not None and presence.echo_free
print(sorted(set(sys.modules) - loaded))
"""
    done = subprocess.run([sys.executable, "-c", learn], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_idle_conversation_dozes_and_wakes_for_a_question(config, question_voice, tmp_path, monkeypatch):
    question = "What is the capital of France?"
    (onset, _), = place([(2.5, question_voice(question))], total_s=9.0, path=tmp_path / "speech.wav")
    soundfile.write(str(tmp_path / "in.wav"), soundfile.read(str(tmp_path / "speech.wav"), dtype="float32")[0]
                    + room(9.0), SAMPLE_RATE)  # in a quiet room
    dozes: list[tuple[float, float | None]] = []  # (input time, what the conversation said)
    doze = WavMicrophone.doze
    monkeypatch.setattr(WavMicrophone, "doze", lambda microphone, wake_above: (
        dozes.append((time.monotonic() - microphone.time_of(0), wake_above)), doze(microphone, wake_above))[1])
    config = dataclasses.replace(config, llm=dataclasses.replace(config.llm, backend="embedded", max_tokens=24),
                                 tts=dataclasses.replace(config.tts, engine="piper"),
                                 conversation=dataclasses.replace(config.conversation, metrics_file=""))
    result = asyncio.run(run_duplex(config, tmp_path / "in.wav", tmp_path / "out.wav"))

    assert len(result.turns) == 1 and result.turns[0].outcome == "replied"
    assert word_error_rate(question, result.turns[0].transcript) <= 0.2
    reply_end = sound_times(tmp_path / "out.wav")[-1]
    assert any(at < onset and wake_above is not None for at, wake_above in dozes), "it never dozed off"
    assert all(wake_above is None for at, wake_above in dozes if onset + 0.2 < at < reply_end), \
        "it dozed while the user spoke or while it answered"
    assert dozes[-1][1] is not None, "it did not doze off again once the reply was over"
