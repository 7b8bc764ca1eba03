"""A microphone with the speaker's echo taken out, between the capture device and the VAD.

Each 512-sample frame from the inner microphone is paired with what the speaker played at the same moments (the
`PlayedAudio` reference, written before it sounded, so never late) and goes through the canceller on its own
thread. The canceller takes whole 10 ms frames and 512 is not a multiple of 160, so up to 128 samples of each frame
wait for the next one: the cleaned frames run `REFRAME_LAG` samples (8 ms) behind the input, and their `start`
says so, so every sample keeps its true time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import numpy as np

from assistant.audio.echo_canceller import AEC_FRAME, EchoCanceller
from assistant.audio.played_audio import PlayedAudio
from assistant.core.ports import Microphone
from assistant.core.thread_priority import Role
from assistant.core.types import FRAME_SAMPLES, MicFrame
from assistant.core.worker_thread import EngineThread

REFRAME_LAG = max((k * FRAME_SAMPLES) % AEC_FRAME for k in range(AEC_FRAME))  # the most a frame leaves waiting


class _Reframer:
    """Whole 10 ms frames for the canceller, the rest kept for the next call."""

    def __init__(self) -> None:
        self._near = np.zeros(0, dtype=np.float32)
        self._far = np.zeros(0, dtype=np.float32)

    def whole_frames(self, near: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._near, self._far = np.concatenate([self._near, near]), np.concatenate([self._far, far])
        whole = len(self._near) - len(self._near) % AEC_FRAME
        taken = self._near[:whole], self._far[:whole]
        self._near, self._far = self._near[whole:], self._far[whole:]
        return taken


class EchoCancelledMicrophone:
    """A `Microphone`: the inner one's frames, echo removed, on the inner one's timeline.

    The canceller runs on its own thread; `light(far)`, if given, says when a call costs so little (AEC3 asleep while
    the speaker is silent) that it runs on the event loop instead, saving the two thread hops of every frame.
    """

    def __init__(self, inner: Microphone, played: PlayedAudio, canceller: EchoCanceller,
                 light: Callable[[np.ndarray], bool] = lambda far: False) -> None:
        self.inner = inner
        self._played = played
        self._canceller = canceller
        self._light = light
        self._thread = EngineThread("echo-canceller", Role.AUDIO)

    @property
    def overflows(self) -> int:  # the capture counts them
        return self.inner.overflows

    @property
    def started_at(self) -> float | None:
        return self.inner.started_at

    def time_of(self, sample: int) -> float:
        return self.inner.time_of(sample)

    def doze(self, wake_above: float | None) -> None:
        self.inner.doze(wake_above)  # while dozing nothing plays, so the canceller passes the power through as is

    async def frames(self) -> AsyncIterator[MicFrame]:
        next_in: int | None = None
        async for frame in self.inner.frames():
            if frame.start != next_in:  # the first frame, or the inner timeline jumped: start over from here
                reframer = _Reframer()
                # the lag's worth before the frame's first sample is silence
                cleaned, next_out = np.zeros(REFRAME_LAG, dtype=np.float32), frame.start - REFRAME_LAG
            next_in = frame.start + len(frame.samples)
            self._played.catch_up()
            far = self._played.read(self.inner.time_of(frame.start), len(frame.samples))
            near, far = reframer.whole_frames(frame.samples, far)
            if len(near):
                process = self._canceller.process
                cleaned = np.concatenate([cleaned, process(near, far) if self._light(far) else
                                          await self._thread.run(process, near, far)])
            while len(cleaned) >= FRAME_SAMPLES:
                yield MicFrame(cleaned[:FRAME_SAMPLES], next_out)
                cleaned, next_out = cleaned[FRAME_SAMPLES:], next_out + FRAME_SAMPLES

    def close(self) -> None:
        self.inner.close()
        self._thread.close()
