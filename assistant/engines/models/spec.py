"""What a model is: its files (name, sha256, size) and the sources that can provide them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from assistant.engines.models.fetching import FetchContext

STAMP_NAME = ".verified.json"


@dataclass(frozen=True)
class ModelFile:
    name: str
    sha256: str
    size: int


class SourceError(Exception):
    """A source cannot provide a file; `str()` is the one-line reason."""


class Source(Protocol):
    """Writes one file's bytes to `dest`, or raises (SourceError: a known reason)."""

    def fetch(self, file: ModelFile, dest: Path, ctx: FetchContext) -> None: ...


@dataclass(frozen=True)
class ModelSpec:
    name: str
    folder: str
    summary: str
    files: tuple[ModelFile, ...]
    sources: tuple[Source, ...]

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files)
