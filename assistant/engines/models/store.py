"""The model store: `require` (an engine's check at load) and `status`, over `<models dir>/<spec.folder>/<file>`.

Two models may share a folder (Kokoro and its voices do).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from assistant.engines.models.registry import MODELS, get, select
from assistant.engines.models.report import human
from assistant.engines.models.spec import ModelFile, ModelSpec
from assistant.engines.models.verify import check, sha256_file
from assistant.errors import ModelError


def require(name: str, models_dir: Path) -> Path:
    """The model's folder, once every file in it is present and verified; else a one-line ModelError."""
    spec = get(name)
    return _verified(spec, Path(models_dir) / spec.folder)


def require_folder(folder: Path, family: str, needs: Sequence[str]) -> Path:
    """A model given as a folder path. A copy of a registry model of the `family` (its smallest file, hashed at
    once, says which) is verified through the folder's stamp like any other; another model must hold `needs`."""
    for spec in (spec for spec in MODELS if spec.folder.startswith(family)):
        marker = min(spec.files, key=lambda file: file.size)
        path = folder / marker.name
        if path.is_file() and path.stat().st_size == marker.size and sha256_file(path) == marker.sha256:
            return _verified(spec, folder)
    if missing := [name for name in needs if not (folder / name).is_file()]:
        raise ModelError(f"{folder / missing[0]} is missing: a model folder needs {', '.join(needs)}")
    return folder


def _verified(spec: ModelSpec, folder: Path) -> Path:
    for file, problem in check(spec, folder):
        if problem:
            path = folder / file.name
            raise ModelError(f"{path} is {problem}: run `voice-assistant models pull {spec.name}`")
    return folder


def status(models_dir: Path, names: Sequence[str]) -> int:
    """One line per model (name, folder, size, state); 0 only if every requested model is verified."""
    specs = select(names)
    folders = [f"{Path(models_dir) / spec.folder}/" for spec in specs]
    name_width, folder_width = max(len(spec.name) for spec in specs), max(map(len, folders))
    all_ok = True
    for spec, folder in zip(specs, folders, strict=True):
        problems = [(file, problem) for file, problem in check(spec, Path(folder)) if problem]
        state = "verified" if not problems else describe(problems)
        all_ok = all_ok and not problems
        print(f"{spec.name:<{name_width}}  {folder:<{folder_width}}  {human(spec.size):>9}  {state}")
    if not all_ok:
        print("run `voice-assistant models pull` to fetch what is missing", file=sys.stderr)
    return 0 if all_ok else 1


def describe(problems: list[tuple[ModelFile, str]]) -> str:
    file, problem = problems[0]
    kind, _, detail = problem.partition(" ")
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{kind} file {file.name}{' ' + detail if detail else ''}{more}"
