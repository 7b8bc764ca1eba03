"""Where the models live (the user's data folder by default; a clone's filled models/ keeps working; $VOICE_ASSISTANT_
MODELS_DIR and --models-dir override), and the offer to pull missing models instead of an error."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import paths
from assistant.engines import models
from tests.util import JFK_TEXT, MODELS_DIR, REPO, TEST_DATA, word_error_rate


def cli(*args: str, env: dict | None = None, cwd: Path = REPO, timeout: float = 180) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: no terminal on stdin, the environment given (the models variable only if given)."""
    full = {name: value for name, value in os.environ.items() if name != paths.MODELS_DIR_ENV}
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env={**full, **(env or {})}, timeout=timeout)


def folders_listed(status_output: str) -> set[str]:
    return {line.split()[1].rsplit("/", 2)[0] for line in status_output.splitlines()}


@pytest.mark.skipif(sys.platform != "linux", reason="XDG is the Linux convention; macOS has its own folder")
def test_the_default_is_the_data_folder_and_xdg_data_home_moves_it(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert paths.user_models_dir() == tmp_path / "data" / "voice-assistant" / "models"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert paths.user_models_dir() == Path.home() / ".local" / "share" / "voice-assistant" / "models"


def test_a_clone_keeps_its_filled_models_folder_wherever_it_runs_from(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.MODELS_DIR_ENV, raising=False)
    clone = tmp_path / "clone"
    (clone / "models").mkdir(parents=True)
    (clone / "models" / "README.md").write_text("what a fresh clone has")
    monkeypatch.setattr(paths, "_CHECKOUT", clone)
    assert paths.checkout_models_dir() is None  # no pyproject.toml: an installed package, never a clone
    (clone / "pyproject.toml").write_text("")
    assert paths.checkout_models_dir() is None  # a fresh clone: models/ holds only its README
    assert paths.default_models_dir() == paths.user_models_dir()
    (clone / "models" / "silero-vad").mkdir()
    assert paths.default_models_dir() == clone / "models"
    assert paths.resolve_models_dir("") == clone / "models"
    assert paths.resolve_models_dir("~/elsewhere") == Path.home() / "elsewhere"
    monkeypatch.setenv(paths.MODELS_DIR_ENV, str(tmp_path / "from-env"))
    assert paths.resolve_models_dir("") == tmp_path / "from-env"  # the variable stands in for the default


def test_flag_beats_config_file_beats_environment_beats_default(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ndir = "{tmp_path / "from-config"}"\n')
    (tmp_path / "empty.toml").write_text("")
    env = {paths.MODELS_DIR_ENV: str(tmp_path / "from-env")}
    runs = {"config": cli("--config", str(config), "models", "status", "silero-vad", env=env),
            "env": cli("--config", str(tmp_path / "empty.toml"), "models", "status", "silero-vad", env=env),
            "flag": cli("--config", str(config), "--models-dir", str(tmp_path / "from-flag"), "models", "status",
                        "silero-vad", env=env)}
    for source, run in runs.items():
        assert run.returncode == 1, run.stderr  # nothing there
        assert folders_listed(run.stdout) == {str(tmp_path / f"from-{source}")}


def test_no_models_without_a_terminal_is_one_line_naming_the_fix(tmp_path):
    run = cli("--models-dir", str(tmp_path / "none"), "transcribe", str(TEST_DATA / "jfk.flac"))
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == (f"voice-assistant: models not in {tmp_path / 'none'}/: silero-vad, tiny.en (76.7 MiB): "
                          "run `voice-assistant models pull`, or pass --yes\n")
    assert not (tmp_path / "none").exists()  # only looked


def in_a_terminal(args: list[str], answer: bytes, timeout: float = 60) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, answer its question, and return its exit status and everything shown."""
    leader, follower = os.openpty()
    process = subprocess.Popen([sys.executable, "-m", "assistant", *args], cwd=REPO, stdin=follower,
                               stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    shown, answered, deadline = b"", False, time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.2)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process has ended
                break
            if not chunk:
                break
            shown += chunk
        if not answered and b"[Y/n]" in shown:
            os.write(leader, answer)
            answered = True
    status = process.wait(timeout=10)
    os.close(leader)
    return status, shown.decode(errors="replace")


def test_on_a_terminal_it_offers_to_pull_and_a_no_is_a_one_line_error(tmp_path):
    status, shown = in_a_terminal(["--models-dir", str(tmp_path / "none"), "say", "Hi", "--output",
                                   str(tmp_path / "hi.wav")], b"n\n")
    assert status == 2
    assert ("Models missing or damaged: kokoro, kokoro-voices (91.1 MiB). Download them into "
            f"{tmp_path / 'none'}/ now? [Y/n]") in shown.replace("\r\n", " ").replace("\n", " ")
    assert "run `voice-assistant models pull`" in shown and "Traceback" not in shown


@pytest.fixture
def without_silero(tmp_path) -> Path:
    """The pulled models, linked, except Silero VAD (2.2 MiB: the one a test may really download)."""
    root = tmp_path / "models"
    for spec in models.MODELS:
        if spec.name != "silero-vad":
            (root / spec.folder).mkdir(parents=True, exist_ok=True)
            for file in spec.files:
                (root / spec.folder / file.name).symlink_to((MODELS_DIR / spec.folder / file.name).resolve())
    return root


def test_yes_pulls_what_is_missing_with_per_file_lines_then_runs(without_silero):
    run = cli("--models-dir", str(without_silero), "--yes", "transcribe", str(TEST_DATA / "jfk.flac"), timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"silero-vad → {without_silero / 'silero-vad'}/"
    assert any(line.startswith("  silero_vad.onnx: verified (2.2 MiB from ") for line in lines[1:-1]), lines
    assert word_error_rate(JFK_TEXT, lines[-1]) <= 0.10
    assert models.require("silero-vad", without_silero)


def test_on_a_terminal_a_yes_pulls_file_by_file_then_the_command_runs(without_silero):
    status, shown = in_a_terminal(["--models-dir", str(without_silero), "transcribe", str(TEST_DATA / "jfk.flac")],
                                  b"\n", timeout=300)  # Enter: the default answer is yes
    assert status == 0, shown
    assert "Models missing or damaged: silero-vad (2.2 MiB)." in shown
    assert "silero_vad.onnx: verified (2.2 MiB from " in shown
    assert "ask not what your country can do for you" in shown.lower()
