"""A model file corrupted on disk, met at startup through the CLI: one line naming the file and the fix, exit 2.

The `.verified.json` stamp lets a file whose size, mtime and ctime are unchanged skip hashing. A byte flipped in
place changes the mtime; put back with `os.utime` it does not, but the ctime still does, and that is caught too.
(TTS failing on one chunk and STT failing are in test_conversation_faults.py.)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from assistant.engines import models
from assistant.engines.models import verify
from assistant.errors import ModelError
from tests.test_cli import run_cli
from tests.util import TEST_DATA, flip_byte

WHISPER = models.get("tiny.en")


@pytest.fixture
def whisper_copy(models_dir, tmp_path) -> Path:
    """A models dir: Whisper copied for real (the test corrupts it), every other model linked; freshly verified."""
    root = tmp_path / "models"
    root.mkdir()
    for folder in models_dir.iterdir():
        if folder.name == WHISPER.folder:
            shutil.copytree(folder, root / folder.name, symlinks=False)
        else:
            (root / folder.name).symlink_to(folder, target_is_directory=True)
    (root / WHISPER.folder / models.STAMP_NAME).unlink(missing_ok=True)
    models.require(WHISPER.name, root)  # hashed now: from here on only size, mtime and ctime are compared
    return root


@pytest.mark.parametrize("mtime", ["changed", "put back"])
def test_a_corrupted_model_file_is_a_one_line_error_naming_it_and_the_fix(whisper_copy, tmp_path, mtime):
    path = whisper_copy / WHISPER.folder / "model.bin"
    before = path.stat()
    flip_byte(path)
    if mtime == "put back":
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_size == before.st_size
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ndir = "{whisper_copy}"\n')
    result = run_cli("--config", str(config), "transcribe", str(TEST_DATA / "jfk.flac"))
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"voice-assistant: {path} is corrupt (sha256 mismatch): "
                             f"run `voice-assistant models pull {WHISPER.name}`\n")
    assert result.stdout == ""


def test_a_verified_file_is_not_hashed_again_until_it_changes(whisper_copy, monkeypatch):
    hashed: list[str] = []
    real = verify.sha256_file
    monkeypatch.setattr(verify, "sha256_file", lambda path: hashed.append(Path(path).name) or real(path))
    models.require(WHISPER.name, whisper_copy)
    assert hashed == []  # the stamp answers: one stat() per file
    path = whisper_copy / WHISPER.folder / "model.bin"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same bytes and mtime; only the ctime moves
    models.require(WHISPER.name, whisper_copy)
    assert hashed == ["model.bin"]
    flip_byte(path)
    with pytest.raises(ModelError, match=r"model.bin is corrupt \(sha256 mismatch\): run `voice-assistant models pull"):
        models.require(WHISPER.name, whisper_copy)


def test_a_whisper_model_given_as_a_folder_path_is_checked_like_a_named_one(whisper_copy, tmp_path):
    folder = whisper_copy / WHISPER.folder
    path = folder / "model.bin"
    before = path.stat()
    flip_byte(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back: only the ctime tells
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ndir = "{whisper_copy}"\n[stt]\nmodel = "{folder}"\n')
    result = run_cli("--config", str(config), "transcribe", str(TEST_DATA / "jfk.flac"))
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr == (f"voice-assistant: {path} is corrupt (sha256 mismatch): "
                             f"run `voice-assistant models pull {WHISPER.name}`\n")


def test_a_folder_of_another_whisper_model_must_hold_its_files(tmp_path):
    from assistant.engines.models import require_folder

    other = tmp_path / "whisper-base.en"
    other.mkdir()
    (other / "config.json").write_text("{}")  # not tiny.en's: an unknown model, so only its files are checked
    (other / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelError) as caught:
        require_folder(other, "whisper-", ("model.bin", "config.json", "tokenizer.json"))
    assert str(caught.value) == (f"{other / 'model.bin'} is missing: a model folder needs model.bin, config.json, "
                                 "tokenizer.json")
    (other / "model.bin").write_bytes(b"weights")
    assert require_folder(other, "whisper-", ("model.bin", "config.json", "tokenizer.json")) == other
