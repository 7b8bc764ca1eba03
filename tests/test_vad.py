import asyncio

import numpy as np
import pytest

from assistant.config import VadConfig
from assistant.core.speech_detector import SpeechDetector
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, SpeechEnded, SpeechStarted
from assistant.engines.vad import load_silero_model, load_vad, speech_segments

# Measured once on jfk.flac (16 kHz mono) from its 10 ms energy envelope, 15 dB above the noise floor:
# speech starts at 0.32 s, "…fellow Americans" ends at 2.17 s, "…for your country" ends at 10.45 s.
JFK_ONSET_S, JFK_FIRST_PHRASE_END_S = 0.32, 2.17
JFK_PAUSES_S = [(2.17, 3.29), (4.29, 5.42), (7.50, 8.19)]


@pytest.fixture(scope="module")
def silero(config):
    return load_silero_model(config)


def test_finds_the_first_phrase_within_100_ms(silero, jfk):
    clip = np.concatenate([jfk[: 3 * SAMPLE_RATE], np.zeros(SAMPLE_RATE, dtype=np.float32)])
    segments = speech_segments(silero, SpeechDetector(VadConfig()), clip)
    assert len(segments) == 1
    onset, offset = (s / SAMPLE_RATE for s in segments[0])
    assert abs(onset - JFK_ONSET_S) <= 0.1
    assert abs(offset - JFK_FIRST_PHRASE_END_S) <= 0.1


def test_every_long_pause_in_jfk_splits_the_speech(silero, jfk):
    found = speech_segments(silero, SpeechDetector(VadConfig()), jfk)
    segments = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in found]
    assert abs(segments[0][0] - JFK_ONSET_S) <= 0.1
    for pause_start, pause_end in JFK_PAUSES_S:
        assert not any(a < pause_start + 0.2 and b > pause_end - 0.2 for a, b in segments), (pause_start, segments)
    voiced = sum(b - a for a, b in segments)
    assert 7.0 < voiced < 10.5


@pytest.mark.parametrize("kind", ["silence", "white noise", "hum"])
def test_silent_on_non_speech(silero, kind):
    rng = np.random.default_rng(7)
    t = np.arange(5 * SAMPLE_RATE) / SAMPLE_RATE
    audio = {"silence": np.zeros_like(t), "white noise": rng.standard_normal(t.size) * 0.1,
             "hum": 0.3 * np.sin(2 * np.pi * 120 * t)}[kind].astype(np.float32)
    assert speech_segments(silero, SpeechDetector(VadConfig()), audio) == []


def test_detector_logic_thresholds_min_speech_and_hangover():
    detector = SpeechDetector(VadConfig(start_threshold=0.5, end_threshold=0.3, min_speech_ms=64, hangover_ms=96))
    probabilities = [0.1, 0.9, 0.1, 0.9, 0.4, 0.9, 0.2, 0.2, 0.2, 0.1]
    events = [(i, detector.feed(p, i * FRAME_SAMPLES)) for i, p in enumerate(probabilities)]
    events = [(i, e) for i, e in events if e is not None]
    # frame 1 alone is a click (the 0.1 after it resets); frames 3 (+ 0.4 in between) and 5 make 64 ms of speech
    assert events == [(5, SpeechStarted(3 * FRAME_SAMPLES)), (8, SpeechEnded(6 * FRAME_SAMPLES))]


def test_streaming_engine_emits_events_on_the_input_timeline(config, jfk):
    async def run():
        vad = load_vad(config)
        try:
            events = []
            for start in range(0, 3 * SAMPLE_RATE, FRAME_SAMPLES):
                result = await vad.process(jfk[start:start + FRAME_SAMPLES], start)
                assert 0.0 <= result.probability <= 1.0
                if result.event:
                    events.append(result.event)
            return events
        finally:
            vad.close()

    events = asyncio.run(run())
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    assert abs(events[0].sample / SAMPLE_RATE - JFK_ONSET_S) <= 0.1
