"""Audio files in and out: soundfile for I/O, soxr for resampling."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile
import soxr

from assistant.core.types import SAMPLE_RATE
from assistant.errors import AudioFileError, UserError


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples, from_rate, to_rate).astype(np.float32, copy=False)


def read_speech(path: str | Path) -> np.ndarray:
    """Any file libsndfile reads (WAV, FLAC, OGG, MP3…), as 16 kHz mono float32."""
    samples, rate = read_mono(path)
    return resample(samples, rate, SAMPLE_RATE)


def read_mono(path: str | Path) -> tuple[np.ndarray, int]:
    """A whole audio file as mono float32 in [-1, 1] at its own rate; one-line errors for files that are not audio.

    Any channel count, rate or sample format is fine. A truncated file (its header promises more than is there)
    gives the audio that is there, as libsndfile reads it.
    """
    path = _readable(path)
    try:
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise _not_audio(path, error) from None
    if samples.size == 0:
        raise _empty(path)
    # a float file may hold NaN or peaks past full scale; the VAD and Whisper expect [-1, 1]
    return np.clip(np.nan_to_num(samples.mean(axis=1)), -1.0, 1.0), rate


def check_audio_file(path: str | Path) -> None:
    """Reject, from its header alone, a file `read_speech` would reject: before any engine loads, not after."""
    path = _readable(path)
    try:
        frames = soundfile.info(str(path)).frames
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise _not_audio(path, error) from None
    if frames == 0:
        raise _empty(path)


def _readable(path: str | Path) -> Path:
    # libsndfile says only "System error." for a missing or unreadable file, so ask the OS first
    path = Path(path)
    try:
        with path.open("rb"):
            return path
    except FileNotFoundError:
        raise AudioFileError(f"{path}: no such file (hint: check the path)") from None
    except IsADirectoryError:
        raise AudioFileError(f"{path}: is a folder, not an audio file (hint: name a WAV file in it)") from None
    except OSError as error:
        raise AudioFileError(f"{path}: cannot read it ({error.strerror}; hint: check its permissions)") from None


def _not_audio(path: Path, error: Exception) -> AudioFileError:
    reason = str(error).split(":")[-1].strip().rstrip(".") or "unreadable"
    return AudioFileError(f"{path}: not a readable audio file ({reason}; hint: use WAV, FLAC, OGG or MP3)")


def _empty(path: Path) -> AudioFileError:
    return AudioFileError(f"{path}: the audio file is empty, 0 frames (hint: record a few seconds of speech)")


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
