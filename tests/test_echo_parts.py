"""The echo canceller's parts at CPU speed: the reference timeline, the re-framing, the simulated echo path."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator

import numpy as np
import pytest

from assistant.audio.echo_cancelled_microphone import REFRAME_LAG, EchoCancelledMicrophone
from assistant.audio.echo_path import EchoPath
from assistant.audio.played_audio import PlayedAudio
from assistant.core.types import FRAME_SAMPLES, SAMPLE_RATE, MicFrame
from tests.util import REPO

T0 = 1000.0  # a monotonic time at which input sample 0 was captured


def test_played_audio_is_read_back_by_the_time_it_sounds():
    played = PlayedAudio()
    block = np.arange(1, 161, dtype=np.float32)
    for k in range(5):  # continuous 10 ms blocks at 16 kHz, stamped with a little jitter
        played.write(block + 1000 * k, SAMPLE_RATE, T0 + k * 0.01 + (0.002 if k % 2 else -0.001))
    back = played.read(T0 - 0.001, 800)
    assert np.array_equal(back, np.concatenate([block + 1000 * k for k in range(5)]))  # jitter did not break it
    assert not played.read(T0 - 1.0, 160).any()  # before anything played: silence
    assert not played.read(T0 + 0.2, 160).any()  # not yet played: silence


def test_played_audio_starts_a_new_stretch_after_a_gap_and_keeps_it_silent():
    played = PlayedAudio()
    played.write(np.ones(160, dtype=np.float32), SAMPLE_RATE, T0)
    played.write(np.full(160, 2.0, dtype=np.float32), SAMPLE_RATE, T0 + 0.5)  # the stream restarted later
    assert np.array_equal(played.read(T0 + 0.5, 160), np.full(160, 2.0))
    assert not played.read(T0 + 0.2, 160).any()


def test_played_audio_at_another_rate_is_resampled_in_place():
    played = PlayedAudio()
    rate = 24_000
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
    for k in range(0, rate, 240):
        played.write(tone[k:k + 240], rate, T0 + k / rate)
    expected = np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)
    got = played.read(T0, SAMPLE_RATE)
    assert np.abs(got[100:-100] - expected[100:-100]).max() < 0.05  # in time with the original, within a sample


def test_a_resampling_reference_still_held_at_exit_is_not_reported_as_leaked():
    # As when the speaker stream's close has not run yet, or a second Ctrl+C cut the session's cleanup short: a
    # thread still holds the reference (and so its soxr resampler) when the interpreter exits.
    code = ("import threading, time\nimport numpy as np\nfrom assistant.audio.played_audio import PlayedAudio\n"
            "played = PlayedAudio()\nplayed.write(np.zeros(240, np.float32), 24000, time.monotonic())\n"
            "threading.Thread(target=lambda held: time.sleep(60), args=(played,), daemon=True).start()\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stderr


class _Frames:
    """A microphone whose frames are given, on the T0 timeline."""

    overflows = 0

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = audio

    def time_of(self, sample: int) -> float:
        return T0 + sample / SAMPLE_RATE

    async def frames(self) -> AsyncIterator[MicFrame]:
        for start in range(0, len(self.audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            yield MicFrame(self.audio[start:start + FRAME_SAMPLES], start)

    def close(self) -> None:
        pass


class _Subtract:
    """A perfect canceller for an echo that is exactly the reference."""

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        self.lengths.append(len(near))
        return near - far


def test_the_cancelled_microphone_pairs_each_sample_with_what_played_then_in_whole_10_ms_frames():
    rng = np.random.default_rng(1)
    speech, echo = rng.standard_normal(SAMPLE_RATE).astype(np.float32), rng.standard_normal(SAMPLE_RATE)
    played = PlayedAudio()
    for k in range(0, SAMPLE_RATE, 160):
        played.write(echo[k:k + 160].astype(np.float32), SAMPLE_RATE, T0 + k / SAMPLE_RATE)
    canceller = _Subtract()
    microphone = EchoCancelledMicrophone(_Frames((speech + echo).astype(np.float32)), played, canceller)

    async def collect() -> list[MicFrame]:
        return [frame async for frame in microphone.frames()]

    frames = asyncio.run(collect())
    microphone.close()
    assert all(length % 160 == 0 for length in canceller.lengths)
    assert [frame.start for frame in frames] == [k * FRAME_SAMPLES - REFRAME_LAG for k in range(len(frames))]
    cleaned = np.concatenate([frame.samples for frame in frames])[REFRAME_LAG:]
    assert np.allclose(cleaned, speech[:len(cleaned)], atol=1e-5)  # the echo, and only it, is gone
    assert len(cleaned) >= len(speech) - FRAME_SAMPLES - REFRAME_LAG
    microphone.inner.overflows = 3  # type: ignore[attr-defined]
    assert microphone.overflows == 3  # what the capture lost is what the conversation counts


def test_the_echo_path_is_the_played_audio_through_the_response_scaled_and_delayed():
    played = PlayedAudio()
    played.write(np.ones(1, dtype=np.float32), SAMPLE_RATE, T0)  # one click at T0
    response = np.array([0.0, 0.5, 0.0, -0.25], dtype=np.float32)  # peak 0.5 at 1 sample
    path = EchoPath(response, played, gain_db=-6.0206, delay_ms=1.0)  # half as loud, 16 samples later

    mixed = asyncio.run(path.mixed_into(np.zeros(64, dtype=np.float32), T0))
    expected = np.zeros(64)
    expected[16 + 1], expected[16 + 3] = 0.5, -0.25  # normalised to 1.0 at the peak, then -6 dB
    assert np.allclose(mixed, expected, atol=1e-4)


def test_the_settling_guard_turns_down_only_the_first_second_the_speaker_plays():
    from assistant.audio.echo_canceller import AEC_FRAME, SettlingGuard

    class Identity:
        def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
            return near

    guard = SettlingGuard(Identity())
    near = np.full(AEC_FRAME * 10, 0.5, dtype=np.float32)
    quiet, playing = np.zeros_like(near), np.full_like(near, 0.1)
    assert np.array_equal(guard.process(near, quiet), near)  # nothing played yet: nothing to guard against
    for _ in range(10):  # 10 × 100 ms of the speaker playing: its first second
        assert np.allclose(guard.process(near, playing), 0.5 * 10 ** (SettlingGuard.GUARD_DB / 20))
    assert guard.settled
    assert np.array_equal(guard.process(near, playing), near)  # settled: what the canceller gives, untouched


class _Muted:
    """Stands in for AEC3 so the test sees which output the VAD gets: the canceller's (zeros) or the microphone."""

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        return np.zeros_like(near)


def _speech_like(seconds: float, rms_db: float, seed: int) -> np.ndarray:
    """Noise in 100 ms bursts with short gaps, like words: loud enough to count as the speaker playing."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 10 ** (rms_db / 20), int(seconds * SAMPLE_RATE)).astype(np.float32)
    gaps = (np.arange(len(audio)) // 1600) % 4 == 3  # every fourth 100 ms is a gap between words
    audio[gaps] *= 0.01
    return audio


def _run_bypass(near: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, list[bool]]:
    """The bypass fed as the canceller thread feeds it (blocks of 320 samples): its output, and its verdict after
    each block."""
    from assistant.audio.echo_presence import EchoFreeBypass

    bypass = EchoFreeBypass(_Muted())
    out, verdicts = [], []
    for start in range(0, len(near) - 319, 320):
        out.append(bypass.process(near[start:start + 320], far[start:start + 320]))
        verdicts.append(bypass.presence.echo_free)
    return np.concatenate(out), verdicts


def _session(reply: np.ndarray, echo_gain_db: float | None, user: np.ndarray | None = None,
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(microphone, reference): 1 s of a quiet room (-60 dBFS), a question (if `user`), then the reply playing;
    the microphone hears the room, the user, and the reply through a 30 ms echo path if `echo_gain_db`."""
    rng = np.random.default_rng(seed)
    lead = SAMPLE_RATE if user is None else SAMPLE_RATE + len(user)
    far = np.concatenate([np.zeros(lead, dtype=np.float32), reply])
    near = rng.normal(0, 10 ** (-60 / 20), len(far)).astype(np.float32)
    if user is not None:
        near[SAMPLE_RATE:SAMPLE_RATE + len(user)] += user
    if echo_gain_db is not None:
        delay = int(0.03 * SAMPLE_RATE)
        near[delay:] += far[:-delay] * 10 ** (echo_gain_db / 20)
    return near, far


def test_with_no_echo_path_the_vad_soon_hears_the_microphone_itself():
    near, far = _session(_speech_like(2.0, -20, seed=1), echo_gain_db=None)
    out, verdicts = _run_bypass(near, far)
    reply_start = SAMPLE_RATE // 320
    assert not any(verdicts[:reply_start + 10])  # no verdict before the reply has played a while
    freed = verdicts.index(True) * 320 / SAMPLE_RATE - 1.0
    assert freed <= 0.6, freed  # 0.3 s of loud sound, its gaps between words besides
    assert all(verdicts[verdicts.index(True):])
    assert np.array_equal(out[-SAMPLE_RATE:], near[len(out) - SAMPLE_RATE:len(out)])  # the microphone, untouched


@pytest.mark.parametrize("echo_gain_db", [0.0, -6.0, -30.0])
def test_an_echo_path_keeps_the_canceller_in(echo_gain_db):
    near, far = _session(_speech_like(3.0, -20, seed=2), echo_gain_db)
    out, verdicts = _run_bypass(near, far)
    assert not any(verdicts)
    assert not out.any()  # the canceller's output all along


def test_a_user_talking_before_and_over_the_first_reply_keeps_the_canceller_in():
    """A question just before the reply fills the quiet history; talking over the reply raises the microphone."""
    question = _speech_like(3.0, -25, seed=3)
    near, far = _session(_speech_like(1.0, -20, seed=4), echo_gain_db=-20.0, user=question)
    assert not any(_run_bypass(near, far)[1])
    user_over_reply = np.concatenate([np.zeros(SAMPLE_RATE, dtype=np.float32), _speech_like(1.0, -25, seed=5)])
    near, far = _session(_speech_like(1.0, -20, seed=6), echo_gain_db=None)
    near[-len(user_over_reply):] += user_over_reply[-len(near):][: len(near)]
    assert not any(_run_bypass(near, far)[1])


def test_an_echo_path_that_appears_brings_the_canceller_back_within_a_window():
    """Headphones unplugged mid-session: the next 0.3 s of loud sound show the echo."""
    from assistant.audio.echo_presence import EchoFreeBypass, EchoPresence

    free_near, free_far = _session(_speech_like(2.0, -20, seed=7), echo_gain_db=None)
    echo_near, echo_far = _session(_speech_like(2.0, -20, seed=8), echo_gain_db=-10.0)
    bypass = EchoFreeBypass(_Muted())
    for near, far in ((free_near, free_far), (echo_near[SAMPLE_RATE:], echo_far[SAMPLE_RATE:])):
        verdicts = []
        for start in range(0, len(near) - 319, 320):
            bypass.process(near[start:start + 320], far[start:start + 320])
            verdicts.append(bypass.presence.echo_free)
        if near is free_near:
            assert verdicts[-1]
    back = verdicts.index(False) * 320 / SAMPLE_RATE
    assert back <= 2 * EchoPresence.WINDOW_FRAMES * 0.01 / 0.75, back  # one window, or two if it straddles
    assert not any(verdicts[verdicts.index(False):])


def _cancel_in_blocks(canceller, near: np.ndarray, far: np.ndarray, block: int = 480) -> np.ndarray:
    return np.concatenate([canceller.process(near[s:s + block], far[s:s + block])
                           for s in range(0, len(near) - block + 1, block)])


def test_aec3_is_skipped_while_the_speaker_is_silent_and_cancels_as_well_after():
    """Two replies with 2 s of quiet between: AEC3 sleeps through the quiet (its echo long gone), the microphone
    comes through as AEC3 would give it back, and the second reply's echo is taken out as well as without the skip."""
    from assistant.audio.echo_canceller import IdleSkip, WebRtcEchoCanceller

    reply = _speech_like(2.0, -20, seed=9)
    quiet = np.zeros(2 * SAMPLE_RATE, dtype=np.float32)
    far = np.concatenate([quiet[:SAMPLE_RATE], reply, quiet, reply])
    near = np.random.default_rng(10).normal(0, 10 ** (-60 / 20), len(far)).astype(np.float32)
    delay = int(0.03 * SAMPLE_RATE)
    near[delay:] += far[:-delay] * 10 ** (-10 / 20)  # a laptop's speaker, 30 ms from its microphone

    plain = _cancel_in_blocks(WebRtcEchoCanceller(), near, far)
    skip = IdleSkip(WebRtcEchoCanceller())
    skipping = _cancel_in_blocks(skip, near, far)

    gap_start, gap_end = SAMPLE_RATE + len(reply), SAMPLE_RATE + len(reply) + len(quiet)
    skipped = skip.skipped / SAMPLE_RATE
    assert 1.9 <= skipped <= 2.1, skipped  # the lead and the gap, each but its first 0.5 s
    # in the gap: the microphone exactly, as late as AEC3 returns it (so the timeline does not jump when it wakes)
    lag = IdleSkip.AEC3_DELAY
    middle = slice(gap_start + SAMPLE_RATE, gap_end - SAMPLE_RATE // 4)
    assert np.array_equal(skipping[middle], near[middle.start - lag:middle.stop - lag])
    # AEC3's own output in the quiet is that same delayed microphone, give or take its filtering
    assert np.corrcoef(plain[middle], near[middle.start - lag:middle.stop - lag])[0, 1] > 0.95

    def level_db(audio: np.ndarray) -> float:
        return 10 * np.log10(np.mean(audio**2))

    second_reply = slice(gap_end + SAMPLE_RATE // 2, gap_end + len(reply))  # past AEC3's reconvergence
    assert level_db(skipping[second_reply]) <= level_db(plain[second_reply]) + 3.0
    assert level_db(skipping[second_reply]) <= level_db(near[second_reply]) - 15.0  # the echo is mostly gone
    # waking up leaves no seam: the first 10 ms after it follow the microphone as closely as AEC3 alone does
    wake = slice(gap_end, gap_end + 160)
    shifted = near[wake.start - lag:wake.stop - lag]
    assert np.corrcoef(skipping[wake], shifted)[0, 1] > 0.9
