"""ONNX Runtime sessions as every engine here wants them: a few threads, no spinning, and the graph optimised once.

ONNX Runtime optimises a model's graph every time it opens it: ~0.45 s of a launch's CPU for the Piper voice alone.
The optimised graph is kept in the user's cache folder (keyed by the model file, ONNX Runtime's version and the
CPU, since some optimisations are specific to the processor) and opened as is from then on (~0.1 s). A cached copy
that does not open is deleted and made again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
import tempfile
from pathlib import Path

import onnxruntime as ort

from assistant.machine import cpu_model, saturates_int8_products
from assistant.paths import user_cache_dir

log = logging.getLogger(__name__)
# Fusing a quantized model's QuantizeLinear/DequantizeLinear groups into int8 kernels is faster, but where those
# kernels saturate it changes the answers: a question cut mid-sentence scored "finished" by Smart Turn.
KEEP_QDQ = saturates_int8_products()


def onnx_session(path: Path, threads: int) -> ort.InferenceSession:
    optimised = optimised_copy(path)
    if optimised.is_file():
        try:
            return _session(optimised, threads, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        except Exception as error:  # a truncated or stale copy: made again below
            log.info("the optimised copy of %s does not open (%s): making it again", path.name, error)
            optimised.unlink(missing_ok=True)
    try:
        optimised.parent.mkdir(parents=True, exist_ok=True)
        handle, saving = tempfile.mkstemp(prefix=optimised.stem, suffix=".tmp", dir=optimised.parent)
        os.close(handle)
    except OSError:  # no cache folder to write to: optimise in memory, as every time
        return _session(path, threads)
    try:
        session = _session(path, threads, save_to=Path(saving))
        os.replace(saving, optimised)  # whole or not at all, even with two launches at once
        _drop_older(path, optimised)
        return session
    except Exception:  # it could not be saved (a full disk): as before; a broken model raises here again
        return _session(path, threads)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(saving)


def optimised_copy(path: Path) -> Path:
    """Named by the model file's place, then by what the optimised graph depends on: a model replaced in place
    (a new mtime) or a new ONNX Runtime gets a new copy, and the one before it is deleted (`_drop_older`)."""
    stat = path.stat()
    build = "|".join([str(stat.st_size), str(stat.st_mtime_ns), ort.__version__, platform.machine(), cpu_model(),
                      f"keep-qdq={KEEP_QDQ}"])
    name = f"{_place(path)}-{hashlib.sha256(build.encode()).hexdigest()[:12]}.onnx"
    return user_cache_dir() / "onnx" / name


def _place(path: Path) -> str:
    return f"{path.stem}-{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]}"


def _drop_older(path: Path, kept: Path) -> None:
    for older in kept.parent.glob(f"{_place(path)}-*.onnx"):
        if older != kept:
            with contextlib.suppress(OSError):
                older.unlink()


def _session(path: Path, threads: int,
             level: ort.GraphOptimizationLevel = ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
             save_to: Path | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning threads burn a core while idle and starve the other engines on a 2-core machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = level
    if KEEP_QDQ:  # a quantized model's int8 groups run as float arithmetic instead (Smart Turn: 0.76 → 0.24 on a cut)
        options.add_session_config_entry("session.disable_quant_qdq", "1")
    options.log_severity_level = 3  # saving warns that the graph is for this processor only: known, and keyed so
    if save_to is not None:
        options.optimized_model_filepath = str(save_to)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
