"""The session's microphone and speaker: a WAV file standing in for the mic, or the real sound devices."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Config
from assistant.core.ports import Microphone, Speaker
from assistant.errors import UserError

if TYPE_CHECKING:
    from assistant.audio.wav import WavMicrophone


class NoMicrophoneError(UserError):
    """No capture device: the TUI says so and points at --input instead of failing on the first frame."""


async def open_audio(config: Config, input_path: str | Path | None, *,
                     real_speaker: bool = True) -> tuple[Microphone, Speaker]:
    """With `input_path`: the WAV file as the mic, and the default speaker if one opens (else a silent sink).
    Without: the configured devices, like `listen`. `real_speaker=False` always takes the silent sink."""
    if input_path is not None:
        from assistant.audio.wav import WavMicrophone

        microphone = await asyncio.to_thread(WavMicrophone, input_path)
        speaker = await _device_speaker(config) if real_speaker else None
        return microphone, speaker or _silent_speaker(config, microphone)

    from assistant.audio.devices import DeviceMicrophone, DeviceSpeaker, resolve_device

    try:
        input_device = await asyncio.to_thread(resolve_device, config.audio.input_device, "input")
    except UserError as error:
        raise NoMicrophoneError(str(error)) from None
    output_device = await asyncio.to_thread(resolve_device, config.audio.output_device, "output")
    return DeviceMicrophone(input_device), DeviceSpeaker(config.audio.output_sample_rate, output_device)


async def _device_speaker(config: Config) -> Speaker | None:
    from assistant.audio.devices import DeviceSpeaker, resolve_device

    try:
        device = await asyncio.to_thread(resolve_device, config.audio.output_device, "output")
        return DeviceSpeaker(config.audio.output_sample_rate, device)
    except UserError:  # no sound card, or no sound server: the demo still runs, silently
        return None


def _silent_speaker(config: Config, microphone: WavMicrophone) -> Speaker:
    """A speaker that plays into nothing, on the WAV mic's clock, so reply timing is still real."""
    from assistant.audio.wav import WavSpeaker

    speaker = WavSpeaker(None, config.audio.output_sample_rate, microphone)
    speaker.start()
    return speaker
