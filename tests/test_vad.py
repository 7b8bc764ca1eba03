import asyncio
import dataclasses

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


# --- the quiet gate: Silero skips the room's noise floor, and no onset moves ------------------------------------

ROOM_LEAD_S = 3.0  # enough room noise before each utterance for the gate to learn its floor and close


def _in_room(speech: np.ndarray, noise_dbfs: float, seed: int) -> np.ndarray:
    """An utterance in a room: steady noise all through, ROOM_LEAD_S of it alone before, a second after."""
    lead, tail = int(ROOM_LEAD_S * SAMPLE_RATE), SAMPLE_RATE
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 10 ** (noise_dbfs / 20), lead + len(speech) + tail).astype(np.float32)
    noise[lead:lead + len(speech)] += speech
    return noise


async def _events(config, audio: np.ndarray, skip_quiet: bool) -> tuple[list, int]:
    """(frame index, event) for every VAD event, and how many frames the model never heard."""
    vad = load_vad(dataclasses.replace(config, vad=dataclasses.replace(config.vad, skip_quiet_frames=skip_quiet)))
    try:
        events = []
        for index, start in enumerate(range(0, len(audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES)):
            result = await vad.process(audio[start:start + FRAME_SAMPLES], start)
            if result.event is not None:
                events.append((index, result.event))
        return events, (vad.gate.skipped if vad.gate is not None else 0)
    finally:
        vad.close()


def test_the_quiet_gate_skips_the_noise_floor_and_moves_no_onset_more_than_the_room_does(config):
    """Silero's recurrent state makes every onset depend a little on the noise before it, so skipping the quiet cannot
    leave every onset where it was: the proof is that the gate moves onsets less than another second of the same
    room noise does, and never by more than a frame."""
    from assistant.bench.fixtures import load_manifest

    utterances = [u for group in load_manifest().values() for u in group]
    assert len(utterances) >= 20
    lead_frames = int(ROOM_LEAD_S * SAMPLE_RATE) // FRAME_SAMPLES
    moved_by_gate, moved_by_room = [], []
    for noise_dbfs in (-60.0, -45.0, -35.0):  # a quiet room; a laptop's hiss; a fan
        for seed, utterance in enumerate(utterances):
            audio = _in_room(utterance.samples(), noise_dbfs, seed)
            every, _ = asyncio.run(_events(config, audio, skip_quiet=False))
            gated, skipped = asyncio.run(_events(config, audio, skip_quiet=True))
            other_noise, _ = asyncio.run(_events(config, _in_room(utterance.samples(), noise_dbfs, seed + 100),
                                                 skip_quiet=False))
            starts = [i for i, e in every if isinstance(e, SpeechStarted)]
            gated_starts = [i for i, e in gated if isinstance(e, SpeechStarted)]
            assert starts and len(gated_starts) == len(starts), (utterance.file, noise_dbfs, starts, gated_starts)
            moved_by_gate += [b - a for a, b in zip(starts, gated_starts, strict=True) if b != a]
            moved_by_room += [b - a for a, b in zip(starts, [i for i, e in other_noise if isinstance(e, SpeechStarted)],
                                                     strict=False) if b != a]
            # the model slept through most of the room before the speech (it learns the floor in the first second)
            assert skipped >= 0.6 * lead_frames, (utterance.file, noise_dbfs, skipped)
    print(f"onsets moved by the gate: {moved_by_gate} (frames); by another second of room noise: {moved_by_room}")
    assert all(abs(shift) <= 1 for shift in moved_by_gate), moved_by_gate
    assert len(moved_by_gate) <= len(moved_by_room)
    assert sum(shift > 0 for shift in moved_by_gate) <= sum(shift > 0 for shift in moved_by_room)
