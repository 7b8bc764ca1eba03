"""scripts/setup-system.sh: installs only what is missing, with apt-get; elsewhere one line naming the packages."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.util import REPO

SCRIPT = REPO / "scripts" / "setup-system.sh"
TOOLS = ("bash", "grep", "id", "ldconfig", "cat")  # what the script runs besides the probed commands


def bin_with(folder: Path, *extra: str) -> Path:
    """A PATH folder with only the basic tools and `extra`: pulseaudio, pactl, pacat, parec and tmux are absent."""
    folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool) or shutil.which(tool, path="/sbin:/usr/sbin")
        if found:
            (folder / tool).symlink_to(found)
    for name in extra:
        (folder / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{folder}/calls"\n')
        (folder / name).chmod(0o755)
    return folder


def run(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PATH": str(path)})


def test_without_apt_it_names_the_missing_packages_in_one_line(tmp_path):
    done = run(bin_with(tmp_path / "bin"))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "missing pulseaudio pulseaudio-utils tmux" in done.stderr


def test_with_apt_it_installs_only_the_missing_packages(tmp_path):
    folder = bin_with(tmp_path / "bin", "apt-get", "sudo")
    done = run(folder)
    assert done.returncode == 0, done.stderr
    calls = (folder / "calls").read_text().splitlines()
    prefix = "" if os.getuid() == 0 else "sudo "  # as root, no sudo
    assert calls == [f"{prefix}apt-get update -qq",
                     f"{prefix}apt-get install -y -qq --no-install-recommends pulseaudio pulseaudio-utils tmux"]


def test_with_everything_present_it_does_nothing():
    """The README's test command ran the script before the tests: now it finds everything and stays silent."""
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")
