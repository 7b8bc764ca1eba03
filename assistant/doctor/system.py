"""The machine: Python and package versions, CPU cores, sound devices and which are picked, and whether the
microphone delivers sound (1 s, its level)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import threading

import numpy as np

from assistant.config import Config
from assistant.doctor.report import Report
from assistant.errors import UserError
from assistant.machine import cpu_model

PACKAGES = ("voice-assistant", "numpy", "onnxruntime", "faster-whisper", "ctranslate2", "kokoro-onnx", "piper-tts",
            "xllamacpp", "ollama", "sounddevice", "pywebrtc-audio", "textual")
MIC_SECONDS = 1.0


def check_versions(report: Report) -> None:
    report.line("system", f"{platform.system()} {platform.release()} {platform.machine()}, Python "
                          f"{platform.python_version()} ({platform.python_implementation()})")
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    report.line("packages", ", ".join(versions))


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_cpu(report: Report) -> None:
    report.line("cpu", f"{cpu_cores()} cores usable of {os.cpu_count()}: {cpu_model()}")


def check_sound(report: Report, config: Config) -> int | bool | None:
    """Lists the devices and the picked ones; returns the microphone's index (None: the system default), or
    False when there is none to use."""
    from assistant.audio.devices import list_devices, resolve_device

    try:
        devices = list_devices()
        picked = {kind: resolve_device(getattr(config.audio, f"{kind}_device"), kind, devices)
                  for kind in ("input", "output")}
    except UserError as error:
        report.problem("sound", str(error), "connect a microphone and speaker, start the sound server (PulseAudio "
                       "or PipeWire), or use `voice-assistant demo` / `converse` with files")
        return False
    report.line("sound", f"{len(devices)} devices (`voice-assistant devices` lists them)")
    for kind, index in picked.items():
        default = next((d for d in devices if getattr(d, f"is_default_{kind}")), None)
        device = next((d for d in devices if d.index == index), default)
        setting = getattr(config.audio, f"{kind}_device")
        why = "the system default" if index is None else f"[audio] {kind}_device = {setting!r}"
        name = f"#{device.index} {device.name} ({device.host_api})" if device else "the system default"
        report.line(kind, f"{name}: {why}")
    return picked["input"]


def check_echo(report: Report, config: Config) -> None:
    """Echo cancellation: on or off, and what it costs per 10 ms of microphone audio here."""
    if not config.audio.echo_cancellation:
        report.line("echo", "not cancelled ([audio] echo_cancellation = false): use headphones, or the assistant "
                            "hears itself and cuts itself off")
        return
    import time

    from assistant.audio.echo_canceller import AEC_FRAME, WebRtcEchoCanceller

    try:
        canceller = WebRtcEchoCanceller()
    except UserError as error:
        report.problem("echo", str(error), "`pip install pywebrtc-audio`, or set [audio] echo_cancellation = false")
        return
    noise = np.random.default_rng(0).standard_normal(100 * AEC_FRAME).astype(np.float32) * 0.1
    started = time.perf_counter()
    for start in range(0, len(noise), AEC_FRAME):
        canceller.process(noise[start:start + AEC_FRAME], noise[start:start + AEC_FRAME])
    per_frame_ms = (time.perf_counter() - started) * 1000 / 100
    report.line("echo", f"cancelled (WebRTC AEC3): {per_frame_ms:.2f} ms of CPU per 10 ms of audio "
                        f"({per_frame_ms / 10:.1%} of a core); laptop speakers are fine")


def check_microphone(report: Report, device: int | None) -> None:
    """Record MIC_SECONDS from the picked microphone and give its level; a stream that never delivers fails."""
    import sounddevice

    result: dict = {}

    def record() -> None:
        try:
            result["audio"] = sounddevice.rec(int(MIC_SECONDS * 16000), samplerate=16000, channels=1,
                                              dtype="float32", device=device, blocking=True)
        except Exception as error:  # PortAudio's errors vary by host API; all mean "no sound from it"
            result["error"] = error

    thread = threading.Thread(target=record, daemon=True)
    thread.start()
    thread.join(MIC_SECONDS + 4.0)
    fix = "check the microphone (plugged in, not muted, allowed for this terminal), or pick another with --input-device"
    if "error" in result or "audio" not in result:
        why = result.get("error") or f"no sound within {MIC_SECONDS + 4:g} s"
        report.problem("mic", f"the microphone delivers nothing: {why}", fix)
        return
    audio = result["audio"][:, 0]
    rms = float(np.sqrt(np.mean(audio ** 2))) if audio.size else 0.0
    if rms == 0.0:
        report.line("mic", f"delivers {MIC_SECONDS:g} s of digital silence: muted? ({fix})")
        report.notes.append("the microphone is silent")
    else:
        report.line("mic", f"delivers: {MIC_SECONDS:g} s at {20 * np.log10(rms):.0f} dBFS (speech is about -30 to -15)")
