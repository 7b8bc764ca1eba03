"""`voice-assistant` and its subcommands. Errors a user can fix end as one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from assistant.config import Config, ModelsConfig, load_config, render_toml
from assistant.errors import UserError
from assistant.preflight import check_arguments


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voice-assistant", description="A local, offline voice assistant.")
    parser.add_argument("--config", metavar="PATH", help="config file (default: ~/.config/voice-assistant/config.toml)")
    parser.add_argument("--no-tui", action="store_true", help="talk in the plain terminal (same as `listen`)")
    parser.add_argument("--input", metavar="FILE.wav", help="TUI: use a WAV file as the microphone (demos, no mic)")
    parser.add_argument("--models-dir", metavar="DIR", help="model files (default: ~/.local/share/voice-assistant/"
                                                             "models; also $VOICE_ASSISTANT_MODELS_DIR)")
    parser.add_argument("-y", "--yes", action="store_true", help="download missing models without asking")
    _device_flags(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = commands.add_parser("models", help="show or download the model files")
    models.add_argument("action", nargs="?", choices=("status", "pull"), default="status")
    models.add_argument("names", nargs="*", help="only these models (default: all)")

    transcribe = commands.add_parser("transcribe", help="print the transcript of an audio file")
    transcribe.add_argument("file")

    say = commands.add_parser("say", help="speak TEXT with the configured voice")
    say.add_argument("text")
    say.add_argument("--output", metavar="FILE.wav", help="write a WAV file instead of playing it")
    say.add_argument("--engine", choices=("kokoro", "piper"), help="override [tts] engine")

    bench = commands.add_parser("bench", help="measure latency, barge-in, CPU and memory on spoken fixtures")
    bench.add_argument("--tts", default="piper,kokoro", metavar="ENGINES", help="TTS engines to run, comma-separated")
    bench.add_argument("--baseline", choices=("sequential",), help="also run the naive sequential pipeline")
    bench.add_argument("--short", action="store_true", help="a few fixtures, Piper only, with the baseline (CI)")
    bench.add_argument("--json", metavar="FILE", help="also write every number as JSON")
    bench.add_argument("--no-echo", action="store_true", help="leave out the echo section (synthesised rooms)")
    bench.add_argument("--no-turns", action="store_true",
                       help="leave out the turn-taking section (mid-sentence pauses, both end-of-turn policies)")
    bench.add_argument("--load", action=argparse.BooleanOptionalAction, default=None,
                       help="the scenario again with two busy processes competing for the CPU (default: on, "
                       "off with --short)")

    converse = commands.add_parser("converse", help="headless duplex: a WAV file as the mic, a WAV file as the speaker")
    converse.add_argument("--input", required=True, metavar="IN.wav", help="what the microphone hears (real time)")
    converse.add_argument("--output", required=True, metavar="OUT.wav", help="what the speaker plays, aligned to IN")
    converse.add_argument("--metrics", metavar="FILE", help="append per-turn JSON lines here")
    converse.add_argument("--json", action="store_true", help="print a JSON summary")
    converse.add_argument("--echo-ir", metavar="IR.wav", help="simulate a laptop's echo: what the speaker plays "
                          "reaches the microphone through this impulse response (a WAV file, or one of the "
                          "synthesised rooms: desk, living-room, kitchen)")
    converse.add_argument("--echo-gain-db", type=float, default=0.0, metavar="G",
                          help="the echo's direct path relative to what is played (default 0 dB)")
    converse.add_argument("--echo-delay-ms", type=float, default=0.0, metavar="D",
                          help="extra delay of the echo, on top of the response's own onset (default 0)")

    ask = commands.add_parser("ask", help="one spoken question from a WAV file; prints transcript, reply, latency")
    ask.add_argument("input", metavar="IN.wav")
    ask.add_argument("--output", metavar="OUT.wav", help="write the spoken reply, aligned to IN")
    ask.add_argument("--metrics", metavar="FILE", help="append per-turn JSON lines here")
    ask.add_argument("--json", action="store_true", help="print a JSON summary")

    demo = commands.add_parser("demo", help="the whole pipeline on a built-in spoken question, no microphone needed")
    demo.add_argument("--output", default="demo.wav", metavar="FILE.wav", help="the conversation (default demo.wav)")
    demo.add_argument("--metrics", metavar="FILE", help="append per-turn JSON lines here")
    demo.add_argument("--json", action="store_true", help="print a JSON summary")

    listen = commands.add_parser("listen", help="talk through the microphone and speaker, in the plain terminal")
    _device_flags(listen)

    forget = commands.add_parser("forget", help="delete the turn log: what you said and what was answered")
    forget.add_argument("--timers", action="store_true", help="delete the timers and alarms too")

    commands.add_parser("devices", help="list the sound devices")
    doctor = commands.add_parser("doctor", help="check the setup: one screen to paste into an issue (exit 2 when it "
                                                "cannot run)")
    doctor.add_argument("--remeasure", action="store_true",
                        help="measure the TTS engines again (what `[tts] engine = \"auto\"` decides by) and cache it")
    commands.add_parser("config", help="print the documented default config.toml")
    return parser


def _device_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-device", metavar="DEVICE", help="microphone: index or part of its name")
    parser.add_argument("--output-device", metavar="DEVICE", help="speaker: index or part of its name")
    parser.add_argument("--push-to-talk", action="store_true", help="take turns with Enter instead of the VAD")


def _with_device_flags(args: argparse.Namespace, config: Config) -> Config:
    audio = config.audio
    if getattr(args, "input_device", None) is not None:
        audio = dataclasses.replace(audio, input_device=args.input_device)
    if getattr(args, "output_device", None) is not None:
        audio = dataclasses.replace(audio, output_device=args.output_device)
    if getattr(args, "push_to_talk", False):
        audio = dataclasses.replace(audio, mode="push-to-talk")
    return dataclasses.replace(config, audio=audio)


def main(argv: list[str] | None = None) -> int:
    # Nothing at runtime may reach a model hub; `models pull` lifts this for itself.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # OpenMP threads (llama.cpp, CTranslate2) must sleep when idle, not spin on one of our two cores;
    # libgomp reads this once, when the first engine loads it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = _parser().parse_args(argv)
    try:
        config = _with_device_flags(args, load_config(args.config))
        if args.models_dir is not None:
            config = dataclasses.replace(config, models=ModelsConfig(dir=args.models_dir))
        check_arguments(args)  # bad files first: a one-line error before models are offered or loaded
        if args.command in _MODEL_PARTS:
            from assistant.engines.models.ensure import ensure

            ensure(_for_command(args, config), _MODEL_PARTS[args.command], assume_yes=args.yes)
        if args.command in (None, "listen"):  # the commands that keep what the user said
            _make_user_state_private(config)
        if args.command is None:
            return _listen(args, config) if args.no_tui else _tui(args, config)
        return _HANDLERS[args.command](args, config)
    except UserError as error:
        print(f"voice-assistant: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130


def _models(args: argparse.Namespace, config: Config) -> int:
    from assistant.engines import models

    if args.action == "pull":
        return models.pull(config.models_dir, args.names)
    return models.status(config.models_dir, args.names)


def _transcribe(args: argparse.Namespace, config: Config) -> int:
    from assistant.audio.files import read_speech
    from assistant.engines.stt import load_stt

    audio = read_speech(args.file)

    async def run() -> str:
        stt = load_stt(config)
        try:
            return await stt.final(audio)
        finally:
            stt.close()

    print(asyncio.run(run()))
    return 0


def _say(args: argparse.Namespace, config: Config) -> int:
    from assistant.audio.files import play, write_wav
    from assistant.engines.tts_choice import load_tts

    async def run() -> tuple[list, int]:
        tts = (await load_tts(config, engine=args.engine or "kokoro")).engine
        try:
            chunks = [chunk.samples async for chunk in tts.synthesize(args.text)]
            return chunks, tts.sample_rate
        finally:
            tts.close()

    chunks, rate = asyncio.run(run())
    if not chunks:
        raise UserError(f"nothing to say in {args.text!r} (only markup, emoji or spaces)")
    if args.output:
        write_wav(args.output, chunks, rate)
        print(f"wrote {args.output}")
    else:
        play(chunks, rate)
    return 0


def _print_duplex(result, as_json: bool) -> None:
    import json

    from assistant.frontends.duplex import describe_turn

    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    for info in result.engines:
        print(f"engine:    {info}")
    for turn in result.turns:
        print()
        print("\n".join(describe_turn(turn)))
    stall = result.loop_stall_ms
    print(f"\nevent loop: max stall {stall['max']:.1f} ms, p99 {stall['p99']:.1f} ms")


def _bench(args: argparse.Namespace, config: Config) -> int:
    import json

    from assistant.bench.report import goal_lines, table
    from assistant.bench.runner import SHORT, BenchOptions, run_bench

    engines = tuple(name.strip() for name in args.tts.split(",") if name.strip())
    if unknown := [name for name in engines if name not in ("kokoro", "piper")]:
        raise UserError(f"--tts: unknown engine {unknown[0]!r} (expected kokoro and/or piper)")
    options = SHORT if args.short else BenchOptions(tts_engines=engines, baseline=args.baseline == "sequential",
                                                    echo=not args.no_echo, turns=not args.no_turns)
    if args.load is not None:
        options = dataclasses.replace(options, load=args.load)
    results = asyncio.run(run_bench(config, options, progress=lambda line: print(line, flush=True)))
    print()
    print(table(results))
    print("\ngoals:")
    print(goal_lines(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(results, file, indent=1)
    return 0


def _converse(args: argparse.Namespace, config: Config) -> int:
    from assistant.audio.echo_path import EchoSimulation
    from assistant.frontends.duplex import run_duplex

    with tempfile.TemporaryDirectory(prefix="voice-assistant-room-") as folder:
        echo = None
        if args.echo_ir:
            echo = EchoSimulation(_impulse_response(args.echo_ir, Path(folder)), args.echo_gain_db, args.echo_delay_ms)
        result = asyncio.run(run_duplex(config, args.input, args.output, args.metrics, echo=echo))
    _print_duplex(result, args.json)
    return 0


def _impulse_response(name_or_path: str, folder: Path) -> Path:
    """A synthesised room by name (written into `folder`), else the file itself."""
    from assistant.bench.rooms import ROOMS, write_impulse_response

    room = next((room for room in ROOMS if room.name == name_or_path), None)
    return write_impulse_response(room, folder / f"{room.name}.wav") if room else Path(name_or_path)


def _ask(args: argparse.Namespace, config: Config) -> int:
    from assistant.frontends.duplex import run_duplex

    result = asyncio.run(run_duplex(config, args.input, args.output, args.metrics, max_turns=1))
    _print_duplex(result, args.json)
    return 0 if any(turn.reply for turn in result.turns) else 1


def _demo(args: argparse.Namespace, config: Config) -> int:
    from assistant.frontends.demo import run_demo

    result = asyncio.run(run_demo(config, args.output, on_progress=None if args.json else print,
                                  metrics_path=args.metrics))
    _print_duplex(result, args.json)
    if not args.json:
        print(f"\nwrote the conversation to {args.output}")
    return 0


def _listen(args: argparse.Namespace, config: Config) -> int:
    from assistant.frontends.console import run_listen

    try:
        asyncio.run(run_listen(config))
    except KeyboardInterrupt:
        print("\nbye")
    return 0


def _tui(args: argparse.Namespace, config: Config) -> int:
    from assistant.audio.files import check_audio_file
    from assistant.frontends.tui import run_tui

    if args.input is not None:
        check_audio_file(args.input)  # a bad file is a one-line error and exit 2, not a TUI error screen
    else:
        _check_sound_devices()  # likewise no sound devices at all: exit 2 (a missing mic alone gets the TUI's screen)
    return run_tui(config, args.input)


def _check_sound_devices() -> None:
    from assistant.audio.devices import list_devices, resolve_device

    devices = list_devices()
    if not devices:
        resolve_device("", "input", devices)  # raises the one-line NoDeviceError


def _make_user_state_private(config: Config) -> None:
    from assistant.user_state import tighten_user_state

    if notice := tighten_user_state(config):
        print(f"voice-assistant: {notice}", file=sys.stderr)


def _forget(args: argparse.Namespace, config: Config) -> int:
    from assistant.user_state import forget

    removed = forget(config, timers=args.timers)
    for path in removed:
        print(f"deleted {path}")
    if not removed:
        print("nothing to forget: no turn log" + (" or timers" if args.timers else "") + " was kept")
    return 0


def _devices(args: argparse.Namespace, config: Config) -> int:
    from assistant.audio.devices import describe_devices, list_devices

    print(describe_devices(list_devices()))
    return 0


def _doctor(args: argparse.Namespace, config: Config) -> int:
    from assistant.doctor import run_doctor

    return run_doctor(config, args.config, args.remeasure)


def _config(args: argparse.Namespace, config: Config) -> int:
    print(render_toml(config), end="")
    return 0


# The engines each command loads, for the missing-models offer (None = the TUI).
_ALL = ("vad", "stt", "llm", "tts", "turn")
_MODEL_PARTS = {None: _ALL, "listen": _ALL, "demo": _ALL, "ask": _ALL, "converse": _ALL, "bench": _ALL,
                "transcribe": ("vad", "stt"), "say": ("tts",)}


def _for_command(args: argparse.Namespace, config: Config) -> Config:
    """`say` speaks with Kokoro unless --engine says otherwise: only that engine's models are needed."""
    if args.command != "say":
        return config
    return dataclasses.replace(config, tts=dataclasses.replace(config.tts, engine=args.engine or "kokoro"))


_HANDLERS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "models": _models,
    "transcribe": _transcribe,
    "say": _say,
    "bench": _bench,
    "converse": _converse,
    "ask": _ask,
    "demo": _demo,
    "listen": _listen,
    "forget": _forget,
    "devices": _devices,
    "doctor": _doctor,
    "config": _config,
}
