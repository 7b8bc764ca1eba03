"""Sound devices through sounddevice (PortAudio): finding them, and what the microphone and speaker share.

PortAudio calls our callbacks on its own thread. They only copy a block and hand it to the event loop with
`call_soon_threadsafe` (microphone), or pull a block from the thread-safe chunk buffer (speaker): they never
block and never touch a model. Calls that can block (open, start, abort, close) go to a control thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assistant.errors import NoDeviceError, UserError

PORTAUDIO_TIMEOUT_S = 5.0  # an open or close that takes longer is abandoned: the sound server is hanging
LOSS_NOTICE_EVERY_S = 10.0  # at most one overflow or underflow notice per this long


def sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as error:  # the PortAudio shared library is missing
        raise UserError(f"cannot use sound devices: {error} (hint: install libportaudio2)") from None
    return sounddevice


@dataclass(frozen=True)
class Device:
    index: int
    name: str
    host_api: str
    inputs: int
    outputs: int
    default_rate: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[Device]:
    sd = sounddevice()
    try:
        raw = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as error:
        raise NoDeviceError(f"cannot list sound devices: {error} ({_sound_server_hint()})") from None
    return [Device(d["index"], d["name"], apis[d["hostapi"]]["name"], d["max_input_channels"],
                   d["max_output_channels"], d["default_samplerate"], d["index"] == default_in,
                   d["index"] == default_out) for d in raw]


def _sound_server_hint() -> str:
    server = os.environ.get("PULSE_SERVER")
    where = f"is a sound server listening at PULSE_SERVER={server}?" if server else "is a sound server running?"
    return f"hint: {where} `voice-assistant devices` lists what PortAudio sees"


def describe_devices(devices: list[Device]) -> str:
    if not devices:
        return "no sound devices found (PortAudio sees none: no sound card, or no sound server running)"
    lines = [f"{'':2}{'#':>3}  {'name':40} {'host API':12} {'in':>3} {'out':>3} {'rate':>7}"]
    for d in devices:
        mark = ("<" if d.is_default_input else " ") + (">" if d.is_default_output else " ")
        lines.append(f"{mark}{d.index:>3}  {d.name[:40]:40} {d.host_api[:12]:12} {d.inputs:>3} {d.outputs:>3} "
                     f"{d.default_rate:>7.0f}")
    lines.append("< default input, > default output")
    return "\n".join(lines)


def resolve_device(spec: str, kind: str, devices: list[Device] | None = None) -> int | None:
    """A device index from a config/CLI value: "" = the system default, a number = that index, else a
    case-insensitive part of its name. `kind` is "input" or "output"."""
    devices = list_devices() if devices is None else devices
    usable = [d for d in devices if (d.inputs if kind == "input" else d.outputs) > 0]
    if not devices:
        raise NoDeviceError(f"no sound devices at all: PortAudio sees none ({_sound_server_hint()})")
    if not usable:
        what = "microphone" if kind == "input" else "speaker"
        raise NoDeviceError(f"no {kind} device found (hint: check that a {what} is connected; "
                            "`voice-assistant devices` lists what PortAudio sees)")
    spec = spec.strip()
    if not spec:
        return None
    names = ", ".join(f"{d.index}: {d.name}" for d in usable)
    if spec.isdigit():
        if int(spec) in {d.index for d in usable}:
            return int(spec)
        raise UserError(f"no {kind} device has index {spec} (candidates: {names})")
    matches = [d for d in usable if spec.lower() in d.name.lower()]
    exact = [d for d in matches if d.name.lower() == spec.lower()]
    if len(exact) == 1 or len(matches) == 1:
        return (exact or matches)[0].index
    if not matches:
        raise UserError(f"no {kind} device matches {spec!r} (candidates: {names})")
    found = ", ".join(f"{d.index}: {d.name}" for d in matches)
    raise UserError(f"{len(matches)} {kind} devices match {spec!r}: {found} (use the index or a longer name)")


class LossNotices:
    """At most one notice per LOSS_NOTICE_EVERY_S about audio blocks lost since the last one (the count goes on)."""

    def __init__(self, what: str, notify: Callable[[str], None]) -> None:
        self.what = what
        self.notify = notify
        self._reported = 0
        self._at = -LOSS_NOTICE_EVERY_S

    def check(self, total: int) -> None:
        now = time.monotonic()
        if total > self._reported and now - self._at >= LOSS_NOTICE_EVERY_S:
            self.notify(f"{self.what}: {total} so far; the machine is too busy to keep up "
                        "(hint: close other programs, or use a smaller model)")
            self._reported, self._at = total, now
