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


class IdleSkip:
    """An `EchoCanceller` in front of another, that does not run it while the speaker has been silent for longer than
    any echo lasts: with nothing played there is nothing to take out, and AEC3 at 100 frames a second is a good part
    of an always-listening session's idle CPU. Both streams skip the same frames, so AEC3's alignment of the two
    holds; meanwhile the microphone comes out as AEC3 would give it back (`AEC3_DELAY` late), and before AEC3 runs
    again it hears the frame before, so its output carries on without a seam."""

    ECHO_GONE_S = 0.5  # the speaker silent this long: its echo (delay and reverberation) has died away
    SOUNDING_PEAK = 10 ** (-70 / 20)  # a reference quieter than this everywhere is silence
    AEC3_DELAY = 128  # samples: AEC3 returns the microphone 8 ms late (its 64-sample blocks), measured

    def __init__(self, canceller: EchoCanceller) -> None:
        self._canceller = canceller
        self._silent = 0  # samples since the reference last had sound
        self._last = np.zeros(AEC_FRAME, dtype=np.float32)  # the microphone's last 10 ms frame
        self.skipped = 0  # samples AEC3 did not hear, in all

    def skips(self, far: np.ndarray) -> bool:
        """Whether `process` will leave AEC3 out for this reference (then it costs next to nothing)."""
        return self._silent + len(far) >= self.ECHO_GONE_S * SAMPLE_RATE and self._is_silent(far)

    def _is_silent(self, far: np.ndarray) -> bool:
        return not np.count_nonzero(far) or float(np.max(np.abs(far))) <= self.SOUNDING_PEAK  # zeros: fast

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        was_skipping = self._silent >= self.ECHO_GONE_S * SAMPLE_RATE
        self._silent = self._silent + len(far) if self._is_silent(far) else 0
        if self._silent >= self.ECHO_GONE_S * SAMPLE_RATE:
            out = np.concatenate([self._last[-self.AEC3_DELAY:], near])[:len(near)]
            self.skipped += len(near)
        else:
            if was_skipping:  # AEC3's own 8 ms of delay, filled from the frame before, as if it had heard it
                self._canceller.process(self._last, np.zeros(AEC_FRAME, dtype=np.float32))
            out = self._canceller.process(near, far)
        if len(near):
            self._last = np.concatenate([self._last, near])[-AEC_FRAME:]
        return out


class SettlingGuard:
    """An `EchoCanceller` in front of another, for its first second of echo.

    AEC3 starts knowing nothing of the room. Measured on the synthesised rooms, it removes only 4–7 dB of a
    reverberant room's echo in the first half second the speaker plays (then 25–45 dB), enough for the VAD to take
    the first words of the session's first reply for the user. So until the speaker has played `SETTLING_S` of
    sound, what comes out while it plays is turned down by `GUARD_DB`. A user cutting in during that first second
    of the first reply needs a few more words to be heard; AEC3 holds the start of their speech back then anyway.
    """

    SETTLING_S = 1.0
    GUARD_DB = -30.0
    ACTIVE_RMS = 10 ** (-50 / 20)  # a reference frame quieter than this is silence between replies

    def __init__(self, canceller: EchoCanceller) -> None:
        self._canceller = canceller
        self._heard_frames = 0  # 10 ms reference frames with sound, so far

    @property
    def settled(self) -> bool:
        return self._heard_frames * AEC_FRAME >= self.SETTLING_S * SAMPLE_RATE

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        cleaned = self._canceller.process(near, far)
        if self.settled or not np.count_nonzero(far):  # nothing played: nothing to guard against
            return cleaned
        frames = far.reshape(-1, AEC_FRAME)
        active = np.sqrt(np.mean(frames**2, axis=1)) > self.ACTIVE_RMS
        self._heard_frames += int(active.sum())
        gain = np.where(active, 10 ** (self.GUARD_DB / 20), 1.0).astype(np.float32)
        return (cleaned.reshape(-1, AEC_FRAME) * gain[:, None]).reshape(-1)
