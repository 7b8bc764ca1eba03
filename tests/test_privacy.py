"""What the user said stays theirs: owner-only files from the first byte, a turn log that rotates and can be
forgotten, and runs on files that never write into it."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import Config
from assistant.core.private_files import tighten
from assistant.core.records import Outcome, TurnRecord
from assistant.core.turn_log import TurnLog, rotated_out
from assistant.tools.timers import _write_atomically
from assistant.user_state import tighten_user_state


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def state_home(tmp_path, monkeypatch) -> Path:
    """A state folder of this test's own, and the usual umask (files 0644 unless created otherwise)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    old = os.umask(0o022)
    yield tmp_path / "state" / "voice-assistant"
    os.umask(old)


def write_turns(log: TurnLog, count: int) -> None:
    async def run() -> None:
        for n in range(count):
            await log.append(TurnRecord(n, transcript=f"question {n} " + "x" * 80, outcome=Outcome.REPLIED))

    asyncio.run(run())
    log.close()


def test_the_turn_log_and_its_new_folder_are_the_owners_alone(state_home):
    path = state_home / "turns.jsonl"
    write_turns(TurnLog(path), 1)
    assert mode(state_home) == 0o700 and mode(path) == 0o600


def test_the_timers_file_and_its_new_folder_are_the_owners_alone(state_home):
    path = state_home / "timers.json"
    _write_atomically(path, '{"timers": []}')
    assert mode(state_home) == 0o700 and mode(path) == 0o600


def test_the_turn_log_rotates_past_its_size_keeping_one_previous_file_and_every_line_whole(tmp_path):
    path = tmp_path / "turns.jsonl"
    write_turns(TurnLog(path, max_bytes=1000), 30)  # each line is ~400 bytes: a file holds two
    current, previous = path.read_text().splitlines(), rotated_out(path).read_text().splitlines()
    assert path.stat().st_size <= 1000 and rotated_out(path).stat().st_size <= 1000
    assert [json.loads(line)["turn"] for line in previous + current] == [26, 27, 28, 29]
    assert not rotated_out(rotated_out(path)).exists() and mode(path) == 0o600


def test_what_older_versions_left_readable_is_tightened_with_a_notice(state_home, tmp_path):
    (state_home / "log").mkdir(parents=True, mode=0o755)
    os.chmod(state_home, 0o755)
    for name in ("turns.jsonl", "timers.json", "log/stderr.log"):
        (state_home / name).write_text("{}\n")
        os.chmod(state_home / name, 0o644)
    config = Config()
    notice = tighten_user_state(config)
    assert notice is not None and "5 file(s)" in notice and "\n" not in notice
    assert {mode(path) for path in (state_home, state_home / "log")} == {0o700}
    assert {mode(state_home / name) for name in ("turns.jsonl", "timers.json", "log/stderr.log")} == {0o600}
    assert tighten_user_state(config) is None  # once is enough


def test_tightening_keeps_the_owners_own_bits_and_leaves_links_alone(tmp_path):
    script = tmp_path / "script"
    script.write_text("")
    os.chmod(script, 0o755)
    target = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    target.write_text("")
    os.chmod(target, 0o644)
    (tmp_path / "link").symlink_to(target)
    assert tighten([], [script, tmp_path / "link", tmp_path / "missing"]) == [script]
    assert mode(script) == 0o700 and mode(target) == 0o644
    target.unlink()


def test_forget_deletes_the_turn_log_and_keeps_the_timers_unless_asked(state_home, tmp_path, capsys):
    state_home.mkdir(parents=True)
    kept = [state_home / "turns.jsonl", state_home / "turns.jsonl.1", state_home / "timers.json"]
    for path in kept:
        path.write_text("{}\n")
    config = tmp_path / "config.toml"
    config.write_text("")
    assert main(["--config", str(config), "forget"]) == 0
    assert [path.exists() for path in kept] == [False, False, True]
    assert capsys.readouterr().out.count("deleted ") == 2
    assert main(["--config", str(config), "forget", "--timers"]) == 0
    assert not kept[2].exists() and capsys.readouterr().out == f"deleted {kept[2]}\n"
    assert main(["--config", str(config), "forget"]) == 0
    assert capsys.readouterr().out.startswith("nothing to forget")
