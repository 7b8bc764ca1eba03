"""No test reads a file from outside the repository: a fresh clone must pass the test command on its own."""

from __future__ import annotations

import re

import pytest

from tests import repo_guard
from tests.repo_guard import leaves_repo, take_outside_reads
from tests.util import REPO

# A path built upward from the checkout: `REPO.parent`, `parents[2]`, "../" in a string literal.
ESCAPE = re.compile(r"""REPO\.parent|\.parents\[[2-9]\]|["']\.\./""")


def test_a_read_beside_the_checkout_is_caught(tmp_path, monkeypatch):
    monkeypatch.setattr(repo_guard, "_BEFORE", repo_guard._BEFORE | {"shared", f"{REPO.name}-other"})
    sibling = REPO.parent / "shared" / "data" / "jfk.flac"
    assert leaves_repo(sibling)
    assert leaves_repo(str(REPO) + "-other/file")  # a sibling whose name starts like the checkout's
    assert not leaves_repo(REPO.parent / "made-during-the-tests" / "x")
    assert not leaves_repo(REPO / "tests" / "data" / "jfk.flac")
    assert not leaves_repo(tmp_path / "x")  # even when the checkout itself is in the temporary folder
    assert not leaves_repo(REPO.parent / "tmpab12cd" / "x") and not leaves_repo(REPO.parent / "pytest-of-me" / "x")
    assert not leaves_repo(REPO.parent / ".cache" / "huggingface")  # a clone in $HOME: the user's own folders
    with pytest.raises(OSError):
        open(sibling.with_name("no-such-file-for-the-guard"))  # noqa: SIM115 (the attempt is what counts)
    assert take_outside_reads() == [str(sibling.with_name("no-such-file-for-the-guard"))]


def test_no_source_builds_a_path_out_of_the_checkout():
    offenders = []
    for folder in ("tests", "scripts", "assistant"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in {".py", ".sh"} and path.name not in {"repo_guard.py", "test_repo_guard.py"}:
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                    if ESCAPE.search(line) or "shared/data" in line:
                        offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
