"""An output path that cannot be written is a one-line error before anything loads (here: before the models are
even looked at, so a models folder with nothing in it shows the order)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.util import REPO, TEST_DATA


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", "--models-dir", "/nonexistent-models", *args], cwd=REPO,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)


def unwritable(tmp_path) -> dict[str, tuple[str, str]]:
    """Paths no process may write (root included), and the reason each gives."""
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    return {"missing folder": (str(tmp_path / "no" / "out.wav"), f"folder {tmp_path / 'no'} does not exist"),
            "file in the way": (str(tmp_path / "a-file" / "out.wav"), f"folder {tmp_path / 'a-file'} is a file"),
            "a folder": (str(tmp_path / "a-folder"), "is a folder"),
            "proc": ("/proc/voice-assistant-out.wav", "cannot write there (")}


COMMANDS = [["demo", "--output"], ["ask", str(TEST_DATA / "jfk.flac"), "--metrics"], ["say", "Hello", "--output"],
            ["converse", "--input", str(TEST_DATA / "jfk.flac"), "--output"]]
CASES = ["missing folder", "file in the way", "a folder", "proc"]


# every command with every case, but a missing folder for --metrics: the metrics log makes its folders (the next test)
@pytest.mark.parametrize(("command", "case"), [(command, case) for command in COMMANDS for case in CASES
                                               if not (case == "missing folder" and command[-1] == "--metrics")])
def test_unwritable_output_is_one_line_before_anything_starts(tmp_path, command, case):
    path, reason = unwritable(tmp_path)[case]
    run = cli(*command, path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith(f"voice-assistant: {command[-1]} {path}: {reason}"), run.stderr
    assert run.stderr.count("\n") == 1 and "hint:" in run.stderr
    assert sorted(os.listdir(tmp_path)) == ["a-file", "a-folder"]  # nothing made


def test_metrics_in_folders_still_to_be_made_is_fine_and_an_existing_file_is_untouched(tmp_path):
    from assistant.preflight import check_writable

    check_writable(tmp_path / "new" / "deeper" / "turns.jsonl", "--metrics", makes_parents=True)
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "turns.jsonl"
    existing.write_text("{}\n")
    before = existing.stat()
    check_writable(existing, "--metrics")
    assert existing.read_text() == "{}\n" and existing.stat().st_mtime_ns == before.st_mtime_ns


def test_an_echo_impulse_response_that_is_not_audio_is_one_line_and_a_room_name_is_no_file(tmp_path):
    from assistant.bench.rooms import ROOMS
    from assistant.preflight import _ROOM_NAMES

    (tmp_path / "room.wav").write_text("not audio")
    run = cli("converse", "--input", str(TEST_DATA / "jfk.flac"), "--output", str(tmp_path / "out.wav"),
              "--echo-ir", str(tmp_path / "room.wav"))
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"voice-assistant: {tmp_path / 'room.wav'}: not a readable audio file")
    assert tuple(room.name for room in ROOMS) == _ROOM_NAMES  # the names preflight lets through are the rooms
