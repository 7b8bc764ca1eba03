"""What machine this is, in the words people know it by (doctor, bench, the TTS measurement cache's key)."""

from __future__ import annotations

import platform


def cpu_model() -> str:
    try:  # Linux names it here; platform.processor() is often empty there
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown model"


def saturates_int8_products() -> bool:
    """Does ONNX Runtime's fused int8 arithmetic lose precision here? On x86 without VNNI it multiplies u8 by s8
    with an instruction that saturates at 16 bits (ONNX Runtime's quantization docs say so); with VNNI, and on
    other processors, it does not."""
    if platform.machine().lower() not in ("x86_64", "amd64", "i686", "x86"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next(line.split(":", 1)[1].split() for line in info if line.startswith("flags"))
    except (OSError, StopIteration):
        return False  # not Linux: no way to tell cheaply; the fused path is the common one
    return not {"avx512_vnni", "avx_vnni"} & set(flags)
