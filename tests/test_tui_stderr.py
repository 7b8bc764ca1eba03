"""What C libraries write to fd 2 while the TUI runs goes to a log, never over the screen."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import uuid

from tests.test_tui import wait_for_screen
from tests.util import MODELS_DIR, REPO, TEST_DATA

SCRIBBLE = "ALSA lib pcm_dmix.c:1032:(snd_pcm_dmix_open) unable to open slave"


def test_fd_2_goes_to_the_log_and_python_stderr_stays_on_the_terminal(tmp_path):
    code = f"""
import os, sys
from pathlib import Path
from assistant.frontends.tui.stderr_log import stderr_to_log
with stderr_to_log(Path({str(tmp_path / "state" / "stderr.log")!r})) as log:
    os.write(2, b"{SCRIBBLE}\\n")
    sys.__stderr__.write("drawn\\n")
    sys.stderr.write("python\\n")
os.write(2, b"after\\n")
print(log.written)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=30)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "drawn\npython\nafter\n"
    assert (tmp_path / "state" / "stderr.log").read_text() == SCRIBBLE + "\n"
    assert run.stdout == f"{len(SCRIBBLE) + 1}\n"


def test_the_log_starts_over_once_it_is_big(tmp_path):
    from assistant.frontends.tui.stderr_log import MAX_LOG_BYTES, stderr_to_log

    log = tmp_path / "stderr.log"
    log.write_bytes(b"x" * (MAX_LOG_BYTES + 1))
    with stderr_to_log(log):
        pass
    assert log.stat().st_size == 0
    log.write_bytes(b"kept\n")
    with stderr_to_log(log):
        pass
    assert log.read_bytes() == b"kept\n"


def test_the_tui_screen_stays_clean_while_a_library_writes_to_stderr(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ndir = "{MODELS_DIR}"\n[conversation]\nmetrics_file = ""\n'
                      '[llm]\nbackend = "embedded"\n[tts]\nengine = "piper"\n')
    # A C library's complaint every 0.3 s, straight to fd 2, for the whole run (as ALSA does on some machines).
    code = (f"import os, sys, threading, time\n"
            f"def scribble():\n    while True:\n        os.write(2, b'\\r{SCRIBBLE}\\n'); time.sleep(0.3)\n"
            f"threading.Thread(target=scribble, daemon=True).start()\n"
            f"from assistant.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    command = shlex.join([sys.executable, "-c", code, "--config", str(config), "--input", str(TEST_DATA / "jfk.flac")])
    env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    tmux = ["tmux", "-L", f"va-test-{uuid.uuid4().hex[:8]}"]
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "36", "-c", str(REPO),
                    f"{command}; echo exit-status-$?; sleep 60"], check=True, env=env)
    try:
        screen = wait_for_screen(tmux, lambda s: "LISTENING" in s.upper() and "loading the models" not in s,
                                 timeout=120)
        assert "ALSA lib" not in screen, screen
        subprocess.run([*tmux, "send-keys", "q"], check=True)
        screen = wait_for_screen(tmux, lambda s: "exit-status-0" in s, timeout=30)
        assert f"messages from the sound libraries are in {tmp_path / 'state'}" in screen.replace("\n", "")
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    assert SCRIBBLE in (tmp_path / "state" / "voice-assistant" / "log" / "stderr.log").read_text()
