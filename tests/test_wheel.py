"""Installed from a wheel (not editable, not the checkout): `voice-assistant demo` runs from a folder outside the
repository, so everything it needs at run time (package data: the spoken fixtures; the model registry; the default
config) is inside the wheel.

The dependencies are this environment's (a `.pth` line after the fresh venv's own site-packages: installing them
again would download a gigabyte), but `assistant` itself can only come from the wheel: the checkout is neither on
the path nor installed in the fresh venv.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.util import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    (found,) = out.glob("voice_assistant-*.whl")
    return found


def test_the_wheel_holds_the_package_data_and_no_tests_or_models(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "assistant/bench/fixtures/manifest.json" in names
    fixtures = {f"assistant/bench/fixtures/{path.name}" for path in (REPO / "assistant/bench/fixtures").glob("*.flac")}
    assert fixtures and fixtures <= set(names)
    assert "assistant/engines/models/registry.py" in names
    assert not [name for name in names if name.startswith(("tests/", "models/", "scripts/"))]


def test_demo_runs_from_the_installed_wheel_outside_the_repository(wheel, models_dir, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    own_site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
    (own_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--quiet", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state"),
           "VOICE_ASSISTANT_MODELS_DIR": str(models_dir)}
    env.pop("PYTHONPATH", None)
    where = subprocess.run([str(python), "-c", "import assistant; print(assistant.__file__)"], cwd=away, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(own_site)), where  # the wheel's copy, not the checkout

    demo = subprocess.run([str(venv / "bin" / "voice-assistant"), "demo", "--output", "demo.wav"], cwd=away, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "voice-to-voice" in demo.stdout and (away / "demo.wav").stat().st_size > 100_000
