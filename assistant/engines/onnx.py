"""ONNX Runtime sessions as every engine here wants them: a few threads, no spinning."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def onnx_session(path: Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Spinning threads burn a core while idle and starve the other engines on a 2-core machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
