"""Audio files in: odd formats are converted to 16 kHz mono; files that are not usable audio are a one-line error.

The fixture files are made here with soundfile and numpy. Every CLI path that takes an audio file (transcribe,
converse --input, ask, the TUI's --input) must end a bad one with exit status 2, one line naming the file and a
hint, before any engine loads.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from assistant.audio.files import check_audio_file, read_mono, read_speech, resample
from assistant.cli import main
from assistant.core.types import SAMPLE_RATE
from assistant.errors import AudioFileError
from tests.util import JFK_TEXT, isolated_config, word_error_rate


def tone(rate: int, seconds: float = 1.0, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


# ---- converted


def test_stereo_is_averaged_to_mono(tmp_path):
    left, right = tone(SAMPLE_RATE), tone(SAMPLE_RATE, hz=1000.0)
    soundfile.write(str(tmp_path / "s.wav"), np.stack([left, right], axis=1), SAMPLE_RATE, subtype="FLOAT")
    mono, rate = read_mono(tmp_path / "s.wav")
    assert rate == SAMPLE_RATE
    np.testing.assert_allclose(mono, (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_any_rate_becomes_16_khz_with_the_same_pitch(tmp_path, rate):
    soundfile.write(str(tmp_path / "t.wav"), tone(rate, seconds=2.0), rate)
    audio = read_speech(tmp_path / "t.wav")
    assert audio.dtype == np.float32 and abs(len(audio) - 2 * SAMPLE_RATE) <= 2
    assert abs(dominant_hz(audio, SAMPLE_RATE) - 440.0) < 1.0


def test_8_bit_is_read_to_within_its_quantization_step(tmp_path):
    original = tone(SAMPLE_RATE)
    soundfile.write(str(tmp_path / "u8.wav"), original, SAMPLE_RATE, subtype="PCM_U8")
    assert soundfile.info(str(tmp_path / "u8.wav")).subtype == "PCM_U8"
    np.testing.assert_allclose(read_speech(tmp_path / "u8.wav"), original, atol=1 / 128)


def test_a_truncated_file_gives_the_audio_that_is_there(tmp_path):
    original = tone(SAMPLE_RATE, seconds=3.0)
    soundfile.write(str(tmp_path / "full.wav"), original, SAMPLE_RATE, subtype="PCM_16")
    whole = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[:len(whole) // 2 + 1])  # the header still says 3 s; odd byte count
    audio = read_speech(tmp_path / "cut.wav")
    assert 1.4 * SAMPLE_RATE < len(audio) < 1.6 * SAMPLE_RATE
    np.testing.assert_allclose(audio, original[:len(audio)], atol=1 / 32768)


def test_nan_and_peaks_past_full_scale_are_tamed(tmp_path):
    wild = tone(SAMPLE_RATE) * 4
    wild[100:200] = np.nan
    soundfile.write(str(tmp_path / "wild.wav"), wild, SAMPLE_RATE, subtype="FLOAT")
    audio = read_speech(tmp_path / "wild.wav")
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0 and np.abs(audio).max() > 0.9


def test_transcribe_understands_stereo_48_khz_and_8_bit_files(tmp_path, jfk, capsys):
    at_48k = resample(jfk, SAMPLE_RATE, 48_000)
    soundfile.write(str(tmp_path / "stereo48k.wav"), np.stack([at_48k, at_48k * 0.5], axis=1), 48_000)
    soundfile.write(str(tmp_path / "u8.wav"), resample(jfk, SAMPLE_RATE, 22_050), 22_050, subtype="PCM_U8")
    config = isolated_config(tmp_path)
    for name in ("stereo48k.wav", "u8.wav"):
        assert main(["--config", str(config), "transcribe", str(tmp_path / name)]) == 0
        heard = capsys.readouterr().out
        assert word_error_rate(JFK_TEXT, heard) <= 0.15, (name, heard)


# ---- rejected


def empty(tmp_path):
    soundfile.write(str(tmp_path / "empty.wav"), np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    return tmp_path / "empty.wav", "the audio file is empty, 0 frames"


def text_named_wav(tmp_path):
    (tmp_path / "notes.wav").write_text("Buy milk.\nCall the plumber.\n")
    return tmp_path / "notes.wav", "not a readable audio file"


def zero_bytes(tmp_path):
    (tmp_path / "zero.wav").write_bytes(b"")
    return tmp_path / "zero.wav", "not a readable audio file"


def header_only(tmp_path):
    soundfile.write(str(tmp_path / "full.wav"), tone(SAMPLE_RATE), SAMPLE_RATE)
    (tmp_path / "head.wav").write_bytes((tmp_path / "full.wav").read_bytes()[:30])  # cut before the data chunk
    return tmp_path / "head.wav", "not a readable audio file"


def folder(tmp_path):
    (tmp_path / "takes.wav").mkdir()
    return tmp_path / "takes.wav", "is a folder"


def missing(tmp_path):
    return tmp_path / "nowhere.wav", "no such file"


BAD_FILES = [empty, text_named_wav, zero_bytes, header_only, folder, missing]


def assert_one_line_naming(message: str, path, expected: str) -> None:
    assert message.count("\n") <= 1 and "Traceback" not in message, message
    assert f"{path}: {expected}" in message and "hint:" in message, message


@pytest.mark.parametrize("bad_file", BAD_FILES)
def test_unusable_files_are_one_line_errors_with_a_hint(tmp_path, bad_file):
    path, expected = bad_file(tmp_path)
    for read in (read_speech, check_audio_file):
        with pytest.raises(AudioFileError) as caught:
            read(path)
        assert_one_line_naming(str(caught.value), path, expected)
        assert caught.value.exit_code == 2


COMMANDS = {
    "transcribe": lambda path, tmp: ["transcribe", str(path)],
    "converse": lambda path, tmp: ["converse", "--input", str(path), "--output", str(tmp / "out.wav")],
    "ask": lambda path, tmp: ["ask", str(path)],
    "tui": lambda path, tmp: ["--input", str(path)],
}


@pytest.mark.parametrize("bad_file", [empty, text_named_wav, missing])
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_that_takes_audio_exits_2_on_a_bad_file(tmp_path, monkeypatch, capsys, command, bad_file):
    import assistant.frontends.tui

    path, expected = bad_file(tmp_path)
    # no models here: a bad file that slipped through would fail on the models (exit 1), not run a session
    config = isolated_config(tmp_path, models_dir=tmp_path / "no-models")
    monkeypatch.setattr(assistant.frontends.tui, "run_tui", lambda *a: pytest.fail("the TUI started on a bad file"))
    for name, value in (("HF_HUB_OFFLINE", "1"), ("OMP_WAIT_POLICY", "PASSIVE")):
        monkeypatch.setenv(name, value)  # main() sets these for the process; keep them from leaking into others
    assert main(["--config", str(config), *COMMANDS[command](path, tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line_naming(captured.err, path, expected)
