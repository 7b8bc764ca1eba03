"""The real sounddevice path on virtual PulseAudio devices: a null-sink speaker and a virtual microphone."""

import asyncio
import dataclasses
import signal
import statistics
import subprocess
import sys
import time

import numpy as np
import pytest

from assistant.audio.devices import Device, list_devices, resolve_device
from assistant.audio.microphone import DeviceMicrophone
from assistant.bench.wer import word_error_rate
from assistant.core.events import State, TurnFinished
from assistant.core.records import TurnRecord
from assistant.core.types import SAMPLE_RATE
from assistant.engines.loading import load_engines
from assistant.errors import UserError
from assistant.session import open_session
from tests.pulse import play_into_mic, record_speaker
from tests.util import REPO, isolated_config

pytestmark = pytest.mark.usefixtures("audio_devices")
LOUD = 0.02  # |sample| that counts as the assistant's voice in the speaker recording


@pytest.fixture(scope="module")
def engines(config):
    config = device_config(config)
    loaded = asyncio.run(load_engines(config))
    yield loaded
    asyncio.run(loaded.close())


def device_config(config, mode="always-listening"):
    return dataclasses.replace(
        config, llm=dataclasses.replace(config.llm, backend="embedded", max_tokens=160),
        tts=dataclasses.replace(config.tts, engine="piper"),
        # the virtual devices have no echo (as with headphones); tests/test_echo_devices.py loops the speaker back
        audio=dataclasses.replace(config.audio, mode=mode, echo_cancellation=False),
        conversation=dataclasses.replace(config.conversation, metrics_file=""))


async def on_devices(config, engines, body):
    """Run a conversation on the default (virtual) devices while `body(conversation, finished)` drives it."""
    engines.vad.reset()
    async with open_session(config, engines=engines) as session:
        conversation = session.conversation
        finished: asyncio.Queue[TurnRecord] = asyncio.Queue()
        conversation.subscribe(lambda e: finished.put_nowait(e.record) if isinstance(e, TurnFinished) else None)
        runner = asyncio.get_running_loop().create_task(conversation.run())
        try:
            return await body(conversation, finished)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)


async def until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_devices_command_lists_the_virtual_devices():
    result = subprocess.run([sys.executable, "-m", "assistant", "devices"], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    assert " pulse " in result.stdout and " default " in result.stdout and "ALSA" in result.stdout


def test_devices_are_chosen_by_index_or_name_and_bad_choices_name_the_candidates():
    devices = list_devices()
    pulse = next(d.index for d in devices if d.name == "pulse")
    assert resolve_device("", "input", devices) is None  # the system default
    assert resolve_device(str(pulse), "output", devices) == pulse
    assert resolve_device("PULS", "input", devices) == pulse  # case-insensitive part of the name
    with pytest.raises(UserError, match=r"2 input devices match 'e': .*pulse.*default"):
        resolve_device("e", "input", devices)
    with pytest.raises(UserError, match=r"no output device matches 'usb headset' \(candidates: .*pulse"):
        resolve_device("usb headset", "output", devices)
    with pytest.raises(UserError, match="no input device has index 99"):
        resolve_device("99", "input", devices)
    speakers_only = [Device(0, "HDMI", "ALSA", 0, 2, 48000.0, False, True)]
    with pytest.raises(UserError, match="no input device found"):
        resolve_device("", "input", speakers_only)


def test_cli_device_errors_are_one_line():
    result = subprocess.run([sys.executable, "-m", "assistant", "listen", "--input-device", "nothing-like-this"],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "candidates: 0: pulse, 1: default" in result.stderr


def test_sixty_seconds_of_microphone_without_a_dropped_frame():
    async def run():
        microphone = DeviceMicrophone()
        frames, starts = 0, []
        began = None
        async for frame in microphone.frames():
            began = began or time.monotonic()
            starts.append(frame.start)
            frames += 1
            if time.monotonic() - began >= 60:
                break
        microphone.close()
        return frames, starts, time.monotonic() - began, microphone.overflows

    frames, starts, elapsed, overflows = asyncio.run(run())
    assert overflows == 0
    assert starts == [i * 512 for i in range(frames)]  # contiguous: no frame skipped or repeated
    assert abs(frames * 512 / SAMPLE_RATE - elapsed) < 0.15, (frames, elapsed)  # nothing lost against the clock


def test_spoken_question_into_the_mic_gets_a_spoken_reply_from_the_speaker(config, engines, question_voice):
    question = question_voice("What is the capital of France?")
    config = device_config(config)

    async def body(conversation, finished):
        await asyncio.sleep(0.5)
        recording = record_speaker()
        feed = play_into_mic(np.concatenate([question, np.zeros(SAMPLE_RATE // 2, np.float32)]), SAMPLE_RATE)
        turn = await asyncio.wait_for(finished.get(), timeout=40)
        while turn.outcome == "no speech":
            turn = await asyncio.wait_for(finished.get(), timeout=40)
        await asyncio.sleep(0.3)
        return turn, recording.stop(), recording, feed, conversation.microphone.started_at

    turn, audio, recording, feed, mic_zero = asyncio.run(on_devices(config, engines, body))
    assert turn.outcome == "replied" and turn.reply
    assert word_error_rate("What is the capital of France?", turn.transcript) <= 0.2, turn.transcript
    loud = np.flatnonzero(np.abs(audio) > LOUD)
    assert loud.size, "nothing came out of the speaker"
    question_end = feed.time_of(len(question))
    assert recording.time_of(loud[0]) > question_end
    # the first-reply-sample time the pipeline reports (PortAudio's DAC time) is where it is in the recording
    first_sample = recording.time_of(np.flatnonzero(np.abs(audio) > 1e-6)[0])
    reported = mic_zero + turn.times_ms["first_audio"] / 1000
    print(f"first reply sample: reported {reported - first_sample:+.4f} s from the recording")
    assert abs(reported - first_sample) < 0.04


def test_barge_in_through_real_devices_cuts_the_speaker_fast(config, engines, question_voice):
    story = question_voice("Tell me a long story about a brave knight and a dragon.")
    cut_in = question_voice("Stop, what time is it?")
    config = device_config(config)

    async def body(conversation, finished):
        await asyncio.sleep(0.5)
        recording = record_speaker()
        play_into_mic(story, SAMPLE_RATE).wait()
        await until(lambda: conversation.state == State.SPEAKING, timeout=30)
        await asyncio.sleep(1.0)
        # cut in mid-word, not in a pause between sentences: the last 30 ms the speaker played were loud
        await until(lambda: np.abs(recording.snapshot()[-720:]).max(initial=0) > 0.1, timeout=10)
        feed = play_into_mic(cut_in, SAMPLE_RATE)
        first = await asyncio.wait_for(finished.get(), timeout=20)
        await asyncio.sleep(0.8)
        feed.wait()
        return first, recording.stop(), recording, feed

    first, audio, recording, feed = asyncio.run(on_devices(config, engines, body))
    assert first.interrupted, first
    onset = feed.time_of(int(np.flatnonzero(np.abs(cut_in) > LOUD)[0]))
    times = recording.time_of(np.arange(len(audio)))
    loud_before = times[(np.abs(audio) > LOUD) & (times < onset)]
    assert loud_before.size and onset - loud_before[-1] < 0.3, "precondition: the reply was playing"
    loud_after = times[(np.abs(audio) > LOUD) & (times >= onset) & (times < onset + 0.8)]
    silent_after_ms = (loud_after[-1] - onset) * 1000 if loud_after.size else 0.0
    print(f"barge-in through devices: speaker silent {silent_after_ms:.0f} ms after the onset "
          f"(last loud {(loud_before[-1] - onset) * 1000:.0f} ms before; pipeline {first.barge_in_ms:.0f} ms)")
    assert silent_after_ms <= 120


def test_push_to_talk_on_real_devices(config, engines, question_voice):
    question = question_voice("How many legs does a spider have?")
    config = device_config(config, mode="push-to-talk")

    async def body(conversation, finished):
        await asyncio.sleep(0.3)
        play_into_mic(question_voice("This is not a question."), SAMPLE_RATE).wait()  # no key: ignored
        await asyncio.sleep(0.8)
        assert conversation.state == State.LISTENING and finished.empty()
        conversation.push_to_talk()
        assert conversation.state == State.USER_SPEAKING
        play_into_mic(question, SAMPLE_RATE).wait()
        await asyncio.sleep(0.4)
        conversation.push_to_talk()
        assert conversation.state == State.THINKING
        return await asyncio.wait_for(finished.get(), timeout=40)

    turn = asyncio.run(on_devices(config, engines, body))
    assert turn.outcome == "replied"
    assert word_error_rate("How many legs does a spider have?", turn.transcript) <= 0.2, turn.transcript


@pytest.mark.parametrize("interrupts", [1, 2])  # 2: as `timeout -s INT` sends it, or a user pressing Ctrl+C twice
def test_quitting_listen_with_ctrl_c_prints_bye_and_no_leak_report(tmp_path, interrupts):
    config = isolated_config(tmp_path, tts='engine = "piper"')
    # Ctrl+C as a terminal delivers it: a test run started in the background (`pytest &`) ignores SIGINT, and a
    # child would inherit that, so Python would never raise KeyboardInterrupt in it
    listen = subprocess.Popen([sys.executable, "-m", "assistant", "--config", str(config), "listen"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert listen.stdout is not None
        for line in listen.stdout:
            if line.startswith("listening"):
                break
        time.sleep(0.5)  # the speaker has played (silence) through its resampler by now
        for _ in range(interrupts):
            listen.send_signal(signal.SIGINT)
        out, err = listen.communicate(timeout=30)
    finally:
        listen.kill()
    assert "leaked" not in err, err
    if interrupts == 1:
        assert listen.returncode == 0 and out.strip().endswith("bye") and "Traceback" not in err, (out, err)


def test_the_speaker_sleeps_after_a_quiet_while_and_the_next_chunk_wakes_it_whole():
    from assistant.audio.speaker import SPEAKER_SLEEP_AFTER_S, DeviceSpeaker
    from assistant.core.types import AudioChunk

    rate = 24000
    ramp = np.linspace(0.05, 0.5, rate // 2, dtype=np.float32)  # 0.5 s, loud from its first sample

    async def run() -> tuple[bool, bool, float, float | None, np.ndarray]:
        speaker = DeviceSpeaker(rate)
        await speaker.start()
        try:
            await asyncio.sleep(SPEAKER_SLEEP_AFTER_S + 0.5)
            slept = speaker.asleep and speaker._stream.stopped
            recording = record_speaker(rate=rate)
            enqueued = time.monotonic()
            playing = speaker.enqueue(AudioChunk(ramp, rate))
            await asyncio.wait_for(playing.done.wait(), timeout=5)
            awake = not speaker.asleep and speaker._stream.active
            await asyncio.sleep(0.2)
            return slept, awake, enqueued, playing.started_at, recording.stop()
        finally:
            speaker.close()

    slept, awake, enqueued, started_at, audio = asyncio.run(run())
    assert slept, "the speaker's stream still ran after the quiet"
    assert awake
    assert started_at is not None and 0 < started_at - enqueued < 0.2, started_at - enqueued
    loud = np.abs(audio) > 0.02
    played_ms = int(loud.sum()) * 1000 / rate
    assert abs(played_ms - 500) < 15, f"{played_ms:.0f} ms of the 500 ms chunk came out"  # nothing clipped


def test_a_dozing_microphone_wakes_the_loop_a_few_times_a_second_and_at_once_for_a_sound():
    """Idle in a quiet room, the microphone hands its quiet blocks over in batches; a louder block comes at once
    (the held ones before it), and not a sample is lost or moved. Woken (`doze(None)`), each block comes alone."""
    from assistant.core.quiet_gate import frame_power

    rng = np.random.default_rng(3)
    room = rng.normal(0, 10 ** (-60 / 20), 7 * SAMPLE_RATE).astype(np.float32)  # 7 s of a quiet room…
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE)
    room[3 * SAMPLE_RATE:3 * SAMPLE_RATE + len(tone)] += tone.astype(np.float32)  # …with a sound at 3 s
    wake_above = 10 ** (-50 / 10)  # 10 dB over the room (mean power)

    async def run():
        microphone = DeviceMicrophone()
        microphone.doze(wake_above)
        arrivals: list[tuple[int, float, float, float]] = []  # start, arrival, captured, power
        feed, ends_at = None, 0.0
        async for frame in microphone.frames():
            arrivals.append((frame.start, time.monotonic(), microphone.time_of(frame.start + 512),
                             frame_power(frame.samples)))
            if feed is None:
                feed, ends_at = play_into_mic(room, SAMPLE_RATE), time.monotonic() + len(room) / SAMPLE_RATE
            elif time.monotonic() > ends_at + 0.5:
                break
            elif time.monotonic() > ends_at - 2.0:
                microphone.doze(None)
        microphone.close()
        feed.stop()
        return arrivals

    arrivals = asyncio.run(run())
    starts = [start for start, *_ in arrivals]
    assert starts == [i * 512 for i in range(len(arrivals))]  # contiguous: no frame skipped or repeated
    woke = {0} | {i for i in range(1, len(arrivals)) if arrivals[i][1] - arrivals[i - 1][1] > 0.003}
    late = [arrived - captured for _, arrived, captured, _ in arrivals]
    loud = [i for i, (*_, power) in enumerate(arrivals) if power > wake_above]
    assert 14 <= len(loud) <= 17, len(loud)  # the 0.5 s sound
    quiet_before = range(10, loud[0])  # the room, before the sound (from its first batch on)
    assert len(woke.intersection(quiet_before)) <= len(quiet_before) / 5  # ~3.5 wake-ups a second, not 31
    assert statistics.median(late[i] for i in quiet_before) > 0.08  # (they did wait)
    assert max(late[i] for i in loud) < 0.08, [round(late[i], 3) for i in loud]  # a sound never waits
    awake = range(len(arrivals) - round(1.5 * SAMPLE_RATE / 512), len(arrivals))  # the last 1.5 s, not dozing
    assert len(woke.intersection(awake)) >= 0.7 * len(awake)
