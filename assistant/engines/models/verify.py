"""Verification: a file is good when its sha256 matches; a stamp per folder spares hashing it again.

Every folder keeps a small stamp, `.verified.json`: filename → {sha256, size, mtime_ns, ctime_ns}. A file whose
size, mtime and ctime still match its stamp counts as verified without being hashed again, so `require()` at
engine load costs one `stat()` per file; a file that changed is hashed again. The ctime is what catches a file
changed in place with its mtime put back (`touch -r`, `os.utime`, a tool preserving times): nothing but the kernel
can set it. It also changes on a copy, chmod or rename, which only costs one more hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from assistant.engines.models.spec import STAMP_NAME, ModelFile, ModelSpec


class Stamp:
    """`<folder>/.verified.json`: the files already hashed, by name. Entries of other models sharing the
    folder are kept as they are."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STAMP_NAME
        self._entries = self._read()
        self._dirty = False

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def matches(self, file: ModelFile, st: os.stat_result) -> bool:
        entry = self._entries.get(file.name, {})
        return (entry.get("sha256") == file.sha256 and entry.get("size") == st.st_size
                and entry.get("mtime_ns") == st.st_mtime_ns and entry.get("ctime_ns") == st.st_ctime_ns)

    def record(self, file: ModelFile, st: os.stat_result) -> None:
        self._entries[file.name] = {"sha256": file.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                    "ctime_ns": st.st_ctime_ns}
        self._dirty = True

    def forget(self, file: ModelFile) -> None:
        if self._entries.pop(file.name, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Best effort: a read-only models folder still works, it is just hashed at every load."""
        if not self._dirty:
            return
        try:
            tmp = self.path.with_name(f"{STAMP_NAME}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._entries, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError:
            pass


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_mismatch(path: Path, file: ModelFile) -> str | None:
    """None when a fetched file is `file`'s bytes; else what differs, for the pull's error."""
    digest = sha256_file(path)
    return None if digest == file.sha256 else f"sha256 mismatch (got {digest[:12]}…, expected {file.sha256[:12]}…)"


def check_file(folder: Path, file: ModelFile, stamp: Stamp) -> str | None:
    """None if verified, else "missing" / "corrupt (why)" / "unreadable (why)". Hashes unstamped files."""
    path = folder / file.name
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing"
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if stamp.matches(file, st):
        return None
    stamp.forget(file)
    if st.st_size != file.size:
        return f"corrupt (size mismatch: {st.st_size} bytes, expected {file.size})"
    try:
        digest = sha256_file(path)
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if digest != file.sha256:
        return "corrupt (sha256 mismatch)"
    stamp.record(file, st)  # the stat from before hashing: a change during the hash shows up next time
    return None


def check(spec: ModelSpec, folder: Path) -> list[tuple[ModelFile, str | None]]:
    stamp = Stamp(folder)
    results = [(file, check_file(folder, file, stamp)) for file in spec.files]
    stamp.save()
    return results
