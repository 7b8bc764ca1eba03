"""Audio files in and out: soundfile for I/O, soxr for resampling."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile
import soxr

from assistant.errors import UserError
from assistant.events import SAMPLE_RATE


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples, from_rate, to_rate).astype(np.float32, copy=False)


def read_speech(path: str | Path) -> np.ndarray:
    """Any file libsndfile reads (WAV, FLAC, OGG, MP3…), as 16 kHz mono float32."""
    samples, rate = read_mono(path)
    return resample(samples, rate, SAMPLE_RATE)


def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """A whole audio file as mono float32 at its own rate; one-line errors for files that are not audio."""
    path = Path(path)
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        reason = str(error).split(":")[-1].strip() or "unreadable"
        raise UserError(f"{path}: not a readable audio file ({reason}); use WAV, FLAC, OGG or MP3") from None
    if samples.size == 0:
        raise UserError(f"{path}: the audio file is empty")
    return samples.mean(axis=1), rate


def write_wav(path: str | Path, chunks: Sequence[np.ndarray], sample_rate: int) -> None:
    audio = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    soundfile.write(str(path), audio, sample_rate, subtype="PCM_16")


def play(chunks: Sequence[np.ndarray], sample_rate: int) -> None:
    """Play on the default speaker and wait until it has been heard."""
    try:
        import sounddevice
    except OSError as error:  # the PortAudio shared library is missing
        raise UserError(f"cannot play audio: {error} (hint: install libportaudio2, or use --output FILE.wav)") from None

    audio = np.concatenate(chunks)
    # A short tail of silence: PortAudio drops the last ~100 ms of buffered audio when a stream stops.
    audio = np.concatenate([audio, np.zeros(sample_rate // 5, dtype=np.float32)])
    try:
        sounddevice.play(audio, sample_rate, blocking=True)
    except sounddevice.PortAudioError as error:
        raise UserError(f"cannot play audio: {error} (hint: use --output FILE.wav)") from None
