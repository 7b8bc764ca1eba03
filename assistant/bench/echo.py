"""The benchmark's echo section: the assistant on laptop speakers, its voice coming back through synthesised rooms.

With echo cancellation on and off in the same run: how often its own echo interrupts it (false barge-ins and soft
pauses per minute of reply speech), whether a user cutting in over the echo is still heard and how fast the
speaker goes silent, what the canceller costs in CPU, and that voice-to-voice and STT are unchanged by it.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.audio.echo_canceller import AEC_FRAME, WebRtcEchoCanceller
from assistant.audio.echo_path import EchoSimulation
from assistant.bench.fixtures import QuestionInput, barge_in_inputs, load_manifest, question_inputs
from assistant.bench.rooms import ROOMS, impulse_response, write_impulse_response
from assistant.bench.spans import place, silent_after, sound_times
from assistant.config import Config
from assistant.core.ports import Engines
from assistant.core.records import Stage, TurnRecord
from assistant.core.types import SAMPLE_RATE
from assistant.frontends.duplex import run_duplex

GAINS_DB = (-6.0, 0.0)  # the echo's direct path relative to what is played
CUT_INS = 5  # cut-ins per room and gain
QUESTIONS = 6  # questions for voice-to-voice and WER with the canceller on and off
SOUND_STEP_S = 0.005  # sound_times' resolution: each loud step is this much reply speech
REPLY_TAIL_S = 30.0  # silence after a long-reply prompt: room for the whole reply
MIN_RATE_S = 10.0  # a rate per minute of reply speech needs at least this much of it
PLAYING_WITHIN_S = 0.3  # the reply counts as playing at a cut-in if it was loud this shortly before


def _with_aec(config: Config, on: bool) -> Config:
    return dataclasses.replace(config, audio=dataclasses.replace(config.audio, echo_cancellation=on))


async def bench_echo(config: Config, engines: Engines, work: Path, reply_start_s: float,
                     bench_questions: Callable[..., Any], progress: Callable[[str], None]) -> dict:
    """`bench_questions(config, engines, questions)` is the main bench's question loop (voice-to-voice, WER)."""
    rooms = {room.name: write_impulse_response(room, work / f"room-{room.name}.wav") for room in ROOMS}
    prompts = _long_reply_inputs(work)
    replies: dict[str, Any] = {}
    for aec in (True, False):
        for index, (name, path) in enumerate(rooms.items()):
            for gain in GAINS_DB:
                replies[f"{'on' if aec else 'off'} {name} {gain:+g} dB"] = await _echoing_reply(
                    _with_aec(config, aec), engines, prompts[index % len(prompts)], EchoSimulation(path, gain),
                    work, progress)
    # The cut-ins land in the reply as it really starts here (on a busy machine, later than the main bench's median)
    starts = [run["reply_start_s"] for key, run in replies.items() if key.startswith("on ") and run["reply_start_s"]]
    reply_start_s = statistics.median(starts) if starts else reply_start_s
    double_talk = []
    for name, path in rooms.items():
        for gain in GAINS_DB:
            for fixture in barge_in_inputs(work, reply_start_s, CUT_INS):
                result = await run_duplex(config, fixture.path, work / "out.wav", engines=engines,
                                          echo=EchoSimulation(path, gain))
                double_talk.append(_cut_in(result.turns, work / "out.wav", fixture.cut_in_onset_s)
                                   | {"room": name, "gain_db": gain, "cut_in": fixture.cut_in.text})
                progress(f"  double talk {name} {gain:+g} dB {fixture.cut_in.text!r}: {double_talk[-1]['what']} "
                         f"({_outcomes(result.turns)})")
    questions = question_inputs(work, QUESTIONS)
    no_echo = {state: await bench_questions(_with_aec(config, state == "on"), engines, questions)
               for state in ("on", "off")}
    return {"replies": replies, "double_talk": double_talk, "without_echo": no_echo,
            "aec_cpu": aec_cpu()}


def summarize_echo(raw: dict) -> dict:
    """Per canceller state and echo gain: false barge-ins and soft pauses per minute of reply speech; double talk
    detection and barge-in; the canceller's CPU; voice-to-voice and WER without echo, canceller on and off."""
    from assistant.bench.runner import summary

    echo: dict[str, Any] = {"runs": raw}
    for state in ("on", "off"):
        for gain in GAINS_DB:
            runs = [run for key, run in raw["replies"].items() if key.startswith(f"{state} ") and
                    key.endswith(f" {gain:+g} dB")]
            played_s = sum(run["reply_speech_s"] for run in runs)

            def per_minute(key: str, runs: list[dict] = runs, played_s: float = played_s) -> float | None:
                # a rate over a few seconds of speech says nothing: the replies cut off count says it instead
                return round(sum(run[key] for run in runs) / played_s * 60, 2) if played_s >= MIN_RATE_S else None

            echo[f"aec {state}, echo {gain:+g} dB"] = {
                "replies": len(runs), "cut_off": sum(run["false_barge_ins"] > 0 for run in runs),
                "reply_speech_s": round(played_s, 1), "false_barge_ins_per_min": per_minute("false_barge_ins"),
                "phantom_turns_per_min": per_minute("phantom_turns"), "soft_pauses_per_min": per_minute("soft_pauses")}
    for gain in GAINS_DB:
        cut_ins = [run for run in raw["double_talk"] if run["gain_db"] == gain and run["playing"]]
        echo[f"double talk, echo {gain:+g} dB"] = {
            "detected": f"{sum(run['detected'] for run in cut_ins)}/{len(cut_ins)}",
            "detected_share": round(sum(run["detected"] for run in cut_ins) / max(1, len(cut_ins)), 3),
            "reply_not_playing": sum(run["gain_db"] == gain and not run["playing"] for run in raw["double_talk"]),
            "barge_in_ms": summary([run["silent_after_ms"] for run in cut_ins if run["detected"]])}
    echo["aec_cpu"] = raw["aec_cpu"]
    echo["without_echo"] = {state: {"voice_to_voice_ms": measured["voice_to_voice_ms"], "stt_wer": measured["stt_wer"]}
                            for state, measured in raw["without_echo"].items()}
    return echo


def _cut_in(turns: list[TurnRecord], output: Path, onset_s: float) -> dict:
    """Whether a cut-in over the echoing reply was heard, and how soon the speaker went silent. A cut-in that came
    when the reply was not playing (it had not started, or was between sentences) says nothing about double talk."""
    sound = sound_times(output)
    playing = bool(sound[(sound < onset_s) & (sound > onset_s - PLAYING_WITHIN_S)].size)
    detected = any(turn.interrupted for turn in turns)
    silent = silent_after(output, onset_s) * 1000 if playing and detected else None
    what = ("the reply was not playing" if not playing else
            f"silent {silent:.0f} ms after its onset" if silent is not None else "NOT DETECTED")
    return {"playing": playing, "detected": detected, "silent_after_ms": silent, "what": what}


def _long_reply_inputs(work: Path) -> list[QuestionInput]:
    inputs = []
    for index, prompt in enumerate(load_manifest()["long_reply"]):
        path = work / f"echo-prompt-{index}.wav"
        place([(0.5, prompt.samples())], 0.5 + prompt.speech_end_s + REPLY_TAIL_S, path)
        inputs.append(QuestionInput(prompt, path, 0.5 + prompt.speech_end_s))
    return inputs


async def _echoing_reply(config: Config, engines: Engines, prompt: QuestionInput, echo: EchoSimulation,
                         work: Path, progress: Callable[[str], None]) -> dict:
    """One long reply with its echo in the microphone: how often the echo interrupted or paused it."""
    result = await run_duplex(config, prompt.path, work / "out.wav", engines=engines, echo=echo)
    speech_min = len(sound_times(work / "out.wav")) * SOUND_STEP_S / 60
    false_barge_ins = sum(turn.interrupted for turn in result.turns)
    phantom_turns = max(0, len(result.turns) - 1)
    progress(f"  echo {'on ' if config.audio.echo_cancellation else 'off'} {echo.impulse_response.stem} "
             f"{echo.gain_db:+g} dB: {false_barge_ins} false barge-ins, {phantom_turns} phantom turns, "
             f"{result.soft_pauses} soft pauses in {speech_min * 60:.1f} s of reply speech "
             f"({_outcomes(result.turns)})")
    first = result.turns[0] if result.turns else None
    start = first.times_ms.get(Stage.FIRST_AUDIO) if first else None
    return {"reply_speech_s": round(speech_min * 60, 1), "false_barge_ins": false_barge_ins,
            "phantom_turns": phantom_turns, "soft_pauses": result.soft_pauses,
            "reply_start_s": round(start / 1000 - prompt.speech_end_s, 3) if start is not None else None}


def _outcomes(turns: list[TurnRecord]) -> str:
    return "; ".join(f"{turn.outcome}: {turn.reply[:30] or turn.notice!r}" for turn in turns)


def aec_cpu(seconds: float = 10.0) -> dict:
    """The canceller's CPU per 10 ms frame on speech with echo, and as a share of one core."""
    rng = np.random.default_rng(0)
    far = (rng.standard_normal(int(seconds * SAMPLE_RATE)) * 0.1).astype(np.float32)
    near = np.convolve(far, impulse_response(ROOMS[1]))[: len(far)].astype(np.float32)
    canceller = WebRtcEchoCanceller()
    started = time.thread_time()
    for start in range(0, len(far) - AEC_FRAME + 1, AEC_FRAME):
        canceller.process(near[start:start + AEC_FRAME], far[start:start + AEC_FRAME])
    frame_us = (time.thread_time() - started) / (len(far) // AEC_FRAME) * 1e6
    return {"per_frame_us": round(frame_us, 1), "core_percent": round(frame_us / 10_000 * 100, 2)}
