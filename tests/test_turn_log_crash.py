"""Nothing lost: the per-turn JSONL log survives SIGKILL mid-session, and a later session appends to it.

`converse` runs as a real process on three spoken questions. Once two turns are logged, and the third question is
being heard, the process is killed. Every finished turn must be in the file, whole; the next run must only append.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from assistant.bench.spans import place
from assistant.core.records import TurnRecord
from assistant.core.turn_log import TurnLog
from tests.util import REPO, isolated_config, word_error_rate

QUESTIONS = ["What colour is the sky?", "Name a big city in France.",
             "Tell me one thing that you know about the moon and the stars."]  # the long one is cut off
GAP_S = 6.0
KILL_AFTER_ONSET_S = 1.0  # into the third question: its turn has started and cannot have ended


def complete_lines(path) -> list[str]:
    """The lines that end in a newline; a partial last line, if any, is left out."""
    text = path.read_bytes().decode("utf-8") if path.exists() else ""
    return text.split("\n")[:-1]


def converse(config, tmp_path, input_wav, metrics, name) -> subprocess.Popen:
    with (tmp_path / f"{name}.err").open("w") as stderr:
        return subprocess.Popen([sys.executable, "-m", "assistant", "--config", str(config), "converse", "--input",
                                 str(input_wav), "--output", str(tmp_path / f"{name}.wav"), "--metrics", str(metrics)],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr)


def test_sigkill_mid_session_loses_no_finished_turn_and_the_next_run_appends(tmp_path, question_voice):
    speech = [question_voice(text) for text in QUESTIONS]
    starts, at = [], 0.3
    for samples in speech:
        starts.append(at)
        at += len(samples) / 16_000 + GAP_S
    place(list(zip(starts, speech, strict=True)), total_s=at, path=tmp_path / "three.wav")
    # tiny replies: a turn ends within ~1 s of its last logged stage time, which the kill timing relies on
    config = isolated_config(tmp_path, tts='engine = "piper"', llm="max_tokens = 4")
    metrics = tmp_path / "turns.jsonl"

    process = converse(config, tmp_path, tmp_path / "three.wav", metrics, "first")
    try:
        deadline = time.monotonic() + 180
        while len(complete_lines(metrics)) < 2:
            assert process.poll() is None, (tmp_path / "first.err").read_text()
            assert time.monotonic() < deadline, "two turns were never logged"
            time.sleep(0.02)
        # the line went out as turn 2 ended, a little after its last stage time: when the mic started, at the latest
        last_stage_s = max(json.loads(complete_lines(metrics)[1])["times_ms"].values()) / 1000
        mic_started = time.monotonic() - last_stage_s
        time.sleep(max(0.0, mic_started + starts[2] + KILL_AFTER_ONSET_S - time.monotonic()))
        assert process.poll() is None, "the session ended before the kill"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL

    written = metrics.read_bytes()
    assert written.endswith(b"\n"), "a half-written line"
    turns = [json.loads(line) for line in complete_lines(metrics)]
    assert [t["turn"] for t in turns] == [1, 2], turns  # both finished turns, and not the one cut off
    for turn, question in zip(turns, QUESTIONS, strict=False):
        assert turn["outcome"] == "replied" and turn["reply"], turn
        assert word_error_rate(question, turn["transcript"]) <= 0.4, turn["transcript"]

    place([(0.3, speech[0])], total_s=len(speech[0]) / 16_000 + 4.0, path=tmp_path / "one.wav")
    second = converse(config, tmp_path, tmp_path / "one.wav", metrics, "second")
    assert second.wait(timeout=180) == 0, (tmp_path / "second.err").read_text()
    after = metrics.read_bytes()
    assert after.startswith(written), "the second run rewrote the first run's turns"
    added = [json.loads(line) for line in after[len(written):].decode("utf-8").splitlines()]
    assert [t["turn"] for t in added] == [1] and word_error_rate(QUESTIONS[0], added[0]["transcript"]) <= 0.4


def test_a_torn_last_line_from_an_earlier_crash_stays_on_its_own_line(tmp_path):
    import asyncio

    path = tmp_path / "turns.jsonl"
    path.write_bytes(b'{"turn": 1}\n{"turn": 2, "transcr')  # cut short mid-record
    log = TurnLog(path)
    asyncio.run(log.append(TurnRecord(1, transcript="hello")))
    log.close()
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[:2] == ['{"turn": 1}', '{"turn": 2, "transcr'] and lines[3:] == [""]
    assert json.loads(lines[2]) == TurnRecord(1, transcript="hello").to_json()
