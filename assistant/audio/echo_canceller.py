"""The echo canceller behind a small protocol, and the one we ship: WebRTC's AEC3 from the `pywebrtc-audio` wheel.

Why that wheel: it is AEC3 (the canceller Chrome uses), a 1 MB wheel for Linux, macOS and Windows, Python 3.10+,
depending on numpy only, and it releases the GIL while it works. `livekit` carries the same AEC3 but brings
protobuf, a 12 MB FFI runtime and four idle threads for it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from assistant.core.types import SAMPLE_RATE
from assistant.errors import UserError

AEC_FRAME = SAMPLE_RATE // 100  # AEC3 works on 10 ms frames: give it whole ones, or it pads them with zeros


class EchoCanceller(Protocol):
    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        """`near` (the microphone) without the echo of `far` (what the speaker played at the same moments).

        16 kHz float32, equal lengths, a whole number of `AEC_FRAME`s; calls continue one stream.
        """
        ...


class WebRtcEchoCanceller:
    """Not thread-safe: one caller thread (the microphone's canceller thread)."""

    def __init__(self) -> None:
        try:
            from pywebrtc_audio import EchoCanceller as Aec3
        except ImportError as error:
            raise UserError(f"echo cancellation needs the pywebrtc-audio package ({error}; hint: "
                            "`pip install pywebrtc-audio`, or set [audio] echo_cancellation = false)") from None
        # stream_delay_ms stays 0: AEC3 estimates the delay itself, and the reference is never late
        self._aec = Aec3(sample_rate=SAMPLE_RATE, num_channels=1)

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        return np.asarray(self._aec.process(near, far), dtype=np.float32)
