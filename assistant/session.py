"""One session, wired once: `open_session()` opens the sound, loads the engines, builds the conversation, and
closes everything in one order (conversation, microphone, speaker, engines) however the session ends.

Every front end runs inside it: the console, the TUI, the headless duplex mode (and so the demo and the bench).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.audio.played_audio import PlayedAudio
from assistant.config import Config
from assistant.core import thread_priority
from assistant.core.conversation import Conversation
from assistant.core.ports import EngineInfo, Engines, Microphone, Speaker
from assistant.core.thread_priority import Role
from assistant.core.tooling import Toolbox
from assistant.core.turn_log import TurnLog
from assistant.errors import NoMicrophoneError, UserError
from assistant.paths import turn_log_path

if TYPE_CHECKING:
    from assistant.audio.echo_path import EchoSimulation

log = logging.getLogger(__name__)

LoadEngines = Callable[[Config, Callable[[EngineInfo], object]], Awaitable[Engines]]


@dataclass(frozen=True)
class AudioPlan:
    """Where the session's sound comes from and goes to. By default: the configured microphone and speaker."""

    input_wav: Path | None = None  # a WAV file as the microphone, played in real time
    output_wav: Path | None = None  # with `input_wav`: record what the speaker plays, sample-aligned with it
    device_speaker: bool = False  # with `input_wav`: play through the configured speaker if there is one
    echo: EchoSimulation | None = None  # with `input_wav`: what the speaker plays reaches the microphone this way


@dataclass
class Session:
    config: Config
    engines: Engines
    microphone: Microphone  # what the conversation hears: the capture, echo removed if echo cancellation is on
    capture: Microphone  # the capture itself: the microphone device, or the WAV file
    speaker: Speaker
    conversation: Conversation
    toolbox: Toolbox | None


class _NoticeRelay:
    """The sound devices' faults (a microphone gone, lost audio) as conversation notices, once it exists."""

    def __init__(self) -> None:
        self.conversation: Conversation | None = None

    def __call__(self, message: str) -> None:
        if self.conversation is None:
            log.warning("%s", message)
        else:
            self.conversation.notice(message)


@contextlib.asynccontextmanager
async def open_session(config: Config, audio: AudioPlan | None = None, *, engines: Engines | None = None,
                       load_engines: LoadEngines | None = None,
                       on_engine_ready: Callable[[EngineInfo], object] = lambda info: None,
                       metrics_path: str | Path | None = None,
                       toolbox: Toolbox | None = None) -> AsyncIterator[Session]:
    """The session, ready to `conversation.run()`. `engines`, if given, stay open (the caller owns them);
    `metrics_path` overrides `[conversation] metrics_file` ("" = no turn log); `toolbox` replaces the built-in
    tools of `[tools]`."""
    audio = audio or AudioPlan()
    thread_priority.configure(config.priority)
    thread_priority.apply(Role.AUDIO)  # the event loop is the audio path's hub
    relay = _NoticeRelay()
    capture: Microphone | None = None
    microphone: Microphone | None = None
    speaker: Speaker | None = None
    conversation: Conversation | None = None
    own_engines = engines is None
    # what the speaker plays, for the echo canceller's reference and for a simulated echo path
    played = PlayedAudio() if config.audio.echo_cancellation or audio.echo else None
    try:
        capture = microphone = await _open_microphone(config, audio, relay, played)
        if config.audio.echo_cancellation:
            assert played is not None
            microphone = _echo_cancelled(capture, played)
        if engines is None:
            if load_engines is None:
                from assistant.engines import loading  # heavy: the engines' libraries

                load_engines = loading.load_engines
            engines = await load_engines(config, on_engine_ready)
        if toolbox is None and config.tools.enabled:
            toolbox = await asyncio.to_thread(load_toolbox, config, True)
        speaker = await _open_speaker(config, audio, capture, relay, played)
        conversation = Conversation(config, engines, microphone, speaker, turn_log(config, metrics_path), toolbox)
        relay.conversation = conversation
        yield Session(config, engines, microphone, capture, speaker, conversation, toolbox)
    finally:
        try:
            if conversation is not None:
                await conversation.close()
        finally:  # a second Ctrl+C cancels the closing itself: the devices and engines are still let go
            if microphone is not None:
                microphone.close()  # the echo-cancelled one closes its capture too
            if speaker is not None:
                speaker.close()
                if audio.input_wav is not None:  # only then can it be a WAV speaker (and wav.py is loaded already)
                    from assistant.audio.wav import WavSpeaker

                    if isinstance(speaker, WavSpeaker):  # it writes its file last, once everything has played
                        await asyncio.to_thread(speaker.save)
            if played is not None:
                played.close()  # the speaker's stream may outlive the session (its close is not waited for)
            if own_engines and engines is not None:
                await engines.close()


def turn_log(config: Config, metrics_path: str | Path | None = None) -> TurnLog:
    """The turn log: `metrics_path` if given ("" = none), else `[conversation] metrics_file`."""
    path = turn_log_path(config.conversation.metrics_file) if metrics_path is None else metrics_path or None
    return TurnLog(path, max_bytes=round(config.conversation.metrics_max_mb * 2**20))


def load_toolbox(config: Config, keep_timers: bool) -> Toolbox:
    """The built-in tools. Blocking (their modules are imported, the timers' state file is read): run it in a
    thread."""
    from assistant.tools.toolbox import open_toolbox

    return open_toolbox(config.tools, keep_timers=keep_timers)


def _echo_cancelled(capture: Microphone, played: PlayedAudio) -> Microphone:
    from assistant.audio.echo_cancelled_microphone import EchoCancelledMicrophone
    from assistant.audio.echo_canceller import IdleSkip, SettlingGuard, WebRtcEchoCanceller
    from assistant.audio.echo_presence import EchoFreeBypass

    idle_skip = IdleSkip(WebRtcEchoCanceller())
    return EchoCancelledMicrophone(capture, played, EchoFreeBypass(SettlingGuard(idle_skip)), light=idle_skip.skips)


async def _open_microphone(config: Config, audio: AudioPlan, notify: Callable[[str], None],
                           played: PlayedAudio | None) -> Microphone:
    if (input_wav := audio.input_wav) is not None:
        from assistant.audio.echo_path import EchoPath
        from assistant.audio.wav import WavMicrophone

        def open_wav() -> WavMicrophone:
            echo = EchoPath.from_file(audio.echo, played) if audio.echo and played else None
            return WavMicrophone(input_wav, echo)

        return await asyncio.to_thread(open_wav)
    from assistant.audio.devices import resolve_device
    from assistant.audio.microphone import DeviceMicrophone

    try:
        device = await asyncio.to_thread(resolve_device, config.audio.input_device, "input")
    except UserError as error:
        raise NoMicrophoneError(str(error), error.exit_code) from None
    return DeviceMicrophone(device, notify=notify)


async def _open_speaker(config: Config, audio: AudioPlan, microphone: Microphone,
                        notify: Callable[[str], None], played: PlayedAudio | None) -> Speaker:
    if audio.input_wav is None or audio.device_speaker:
        speaker = await _device_speaker(config, notify, played, required=audio.input_wav is None)
        if speaker is not None:
            return speaker
    from assistant.audio.wav import WavMicrophone, WavSpeaker

    assert isinstance(microphone, WavMicrophone)
    # On the WAV microphone's clock: into a file, or into nothing (a demo with no sound card), timing still real.
    wav_speaker = WavSpeaker(audio.output_wav, config.audio.output_sample_rate, microphone, played)
    wav_speaker.start()
    return wav_speaker


async def _device_speaker(config: Config, notify: Callable[[str], None], played: PlayedAudio | None,
                          required: bool) -> Speaker | None:
    from assistant.audio.devices import resolve_device
    from assistant.audio.speaker import DeviceSpeaker

    try:
        device = await asyncio.to_thread(resolve_device, config.audio.output_device, "output")
        speaker = DeviceSpeaker(config.audio.output_sample_rate, device, notify=notify, played=played)
        await speaker.start()
        return speaker
    except UserError:
        if required:
            raise
        return None  # no sound card, or no sound server: a WAV input still runs, silently

