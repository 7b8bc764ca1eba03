"""The streaming speech detector: per-frame speech probabilities in, speech-started / speech-ended events out.

Pure logic on the input timeline (no model, no asyncio): the VAD engine feeds it Silero's probabilities, and
turn-taking tests feed it scripted ones.
"""

from __future__ import annotations

from assistant.config import VadConfig
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, SpeechEnded, SpeechStarted, VadEvent


class SpeechDetector:
    """Turns per-frame probabilities into speech-started / speech-ended events on the input timeline.

    Speech starts once `min_speech_ms` of frames above the start threshold have accumulated (frames between
    the two thresholds neither count nor cancel); it ends after `hangover_ms` below the end threshold (the
    conversation's turn policy may set another: `set_hangover_ms`).
    Events carry the true onset (start of the first voiced frame) and offset (end of the last voiced one).
    """

    def __init__(self, config: VadConfig) -> None:
        self._start = config.start_threshold
        self._end = config.end_threshold
        self._min_speech = config.min_speech_ms * SAMPLE_RATE // 1000
        self._hangover = config.hangover_ms * SAMPLE_RATE // 1000
        self.reset()

    def set_min_speech_ms(self, ms: int) -> None:
        """While the assistant talks, barge-in confirms speech with its own voiced time (`[barge_in]`)."""
        self._min_speech = ms * SAMPLE_RATE // 1000

    def set_hangover_ms(self, ms: int) -> None:
        """The conversation's turn-taking policy decides how long a pause may be (see `vad_hangover_ms`)."""
        self._hangover = ms * SAMPLE_RATE // 1000

    def reset(self) -> None:
        self.speaking = False
        self._onset: int | None = None
        self._voiced = 0
        self.last_voiced_end = 0
        self._silence = 0

    def feed(self, probability: float, frame_start: int, frame_samples: int = FRAME_SAMPLES) -> VadEvent | None:
        frame_end = frame_start + frame_samples
        if not self.speaking:
            if probability >= self._start:
                if self._onset is None:
                    self._onset = frame_start
                self._voiced += frame_samples
                self.last_voiced_end = frame_end
                if self._voiced >= self._min_speech:
                    self.speaking, self._silence = True, 0
                    return SpeechStarted(self._onset)
            elif probability < self._end:
                self._onset, self._voiced = None, 0
            return None
        if probability >= self._end:
            self.last_voiced_end, self._silence = frame_end, 0
            return None
        self._silence += frame_samples
        if self._silence >= self._hangover:
            ended = SpeechEnded(self.last_voiced_end)
            self.reset()
            return ended
        return None
