"""`voice-assistant doctor`: one screen with every check, exit 0 when the assistant can run, 2 with the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.ollama_standin import OllamaStandIn
from tests.pulse import play_into_mic
from tests.test_llm import closed_port_host
from tests.util import TEST_DATA

LABELS = ["system", "packages", "cpu", "config", "sound", "input", "output", "mic", "echo", "models", "ollama", "stt",
          "llm", "tts", "tts", "verdict"]


def doctor(tmp_path: Path, *flags: str, config: str = "", remeasure: bool = False) -> subprocess.CompletedProcess:
    """The doctor as a user runs it: from a folder outside the repository, with a config and a cache folder (the
    TTS measurements) of the test's own."""
    (tmp_path / "config.toml").write_text(config)
    return subprocess.run([sys.executable, "-m", "assistant", "--config", str(tmp_path / "config.toml"), *flags,
                           "doctor", *(["--remeasure"] if remeasure else [])], cwd=tmp_path, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300,
                          env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})


def unwrapped(screen: str) -> str:
    """Continuation lines (indented past the label) joined to their line."""
    return re.sub(r"\n {13}", " ", screen)


def labels(screen: str) -> list[str]:
    return [line.split()[0] for line in screen.splitlines()[2:] if line[:1].strip()]


def test_a_working_setup_gets_every_check_and_exit_0(audio_devices, models_dir, tmp_path):
    feed = play_into_mic(TEST_DATA / "jfk.flac")  # speech while the doctor listens to the microphone
    try:
        run = doctor(tmp_path, "--models-dir", str(models_dir),
                     config=f'[llm.ollama]\nhost = "{closed_port_host()}"\n')
    finally:
        feed.stop()
    assert run.returncode == 0, run.stdout + run.stderr
    assert max(map(len, run.stdout.splitlines())) <= 100 and len(run.stdout.splitlines()) <= 40  # one screen
    screen = unwrapped(run.stdout)
    assert [label for label in labels(screen) if label in LABELS] == LABELS, screen
    assert re.search(r"^mic +delivers: 1 s at -\d+ dBFS", screen, re.M), screen
    assert re.search(r"^cpu +\d+ cores usable of \d+", screen, re.M)
    assert re.search(r"^echo +cancelled \(WebRTC AEC3\): [\d.]+ ms of CPU per 10 ms of audio", screen, re.M), screen
    assert f"{models_dir}: 7 of 7 verified (sha256)" in screen
    assert "Ollama is not answering at http://127.0.0.1:" in screen and "auto picks: embedded SmolLM2" in screen
    assert re.search(r"^tts +Kokoro af_heart: first chunk in \d+ ms, real-time factor [\d.]+ with the embedded LLM "
                     r"generating → voice-to-voice ≈ \d+ ms", screen, re.M), screen
    assert re.search(r"^ +auto picks (Kokoro|Piper): ", screen, re.M), screen
    assert re.search(r"^ +\(measured now in \d+ s; `voice-assistant doctor --remeasure` measures again\)", screen,
                     re.M), screen
    assert re.search(r"^tts +Piper en_US-joe-medium: first chunk in \d+ ms", screen, re.M), screen
    assert screen.splitlines()[-1].startswith("verdict    ready: run `voice-assistant`")


def test_missing_models_and_an_ollama_without_the_model_say_what_to_run_and_exit_2(audio_devices, tmp_path):
    with OllamaStandIn(models=["qwen2.5:0.5b"]) as ollama:
        run = doctor(tmp_path, "--models-dir", str(tmp_path / "empty"),
                     config=f'[llm]\nbackend = "ollama"\n[llm.ollama]\nhost = "{ollama.host}"\n')
    assert run.returncode == 2, run.stdout + run.stderr
    screen = unwrapped(run.stdout)
    # backend = "ollama": SmolLM2 is needed only as the end-of-turn words cue
    assert (f"PROBLEM: needed, not in {tmp_path / 'empty'}/: silero-vad, smart-turn, smollm2-135m-instruct, "
            "tiny.en, kokoro, kokoro-voices, en_US-joe-medium") in screen
    assert f"{ollama.host} answers; models pulled: qwen2.5:0.5b" in screen
    assert "PROBLEM: the configured model 'llama3.2:1b' is not pulled" in screen
    assert "speed      not measured: the engines need their models first" in screen
    verdict, fix = screen.splitlines()[-2:]
    assert verdict.startswith("verdict    cannot run: needed, not in ") and verdict.endswith("(+1 more above)")
    assert fix == "fix        voice-assistant models pull"


def test_no_ollama_with_backend_ollama_is_the_fix(audio_devices, tmp_path):
    run = doctor(tmp_path, "--models-dir", str(tmp_path / "empty"),
                 config=f'[llm]\nbackend = "ollama"\n[llm.ollama]\nhost = "{closed_port_host()}"\n')
    assert run.returncode == 2
    assert re.search(r"^ollama +PROBLEM: Ollama is not answering at http://127\.0\.0\.1:\d+$", unwrapped(run.stdout),
                     re.M)


def test_remeasure_replaces_the_cached_tts_measurements(audio_devices, models_dir, tmp_path):
    from assistant.config import Config
    from assistant.engines.tts_measure import TtsMeasurement, cache_key, read_cache, write_cache

    cache = tmp_path / "cache" / "voice-assistant" / "tts-measurements.json"
    stale = TtsMeasurement(first_chunk_ms=9999.0, rtf=9.0, load="a test's made-up numbers", text_ready_ms=1.0)
    write_cache(cache, {cache_key(Config(), engine): stale for engine in ("kokoro", "piper")})
    run = doctor(tmp_path, "--models-dir", str(models_dir), config=f'[llm.ollama]\nhost = "{closed_port_host()}"\n',
                 remeasure=True)
    assert run.returncode == 0, run.stdout + run.stderr
    screen = unwrapped(run.stdout)
    assert "9999" not in screen and re.search(r"\(measured now in \d+ s;", screen), screen
    fresh = read_cache(cache)
    kokoro, piper = (fresh[cache_key(Config(), engine)] for engine in ("kokoro", "piper"))
    for measured in (kokoro, piper):  # real numbers for a real machine: a reply in seconds, not minutes
        assert 20 < measured.first_chunk_ms < 5000 and 0.02 < measured.rtf < 5, measured
        assert measured.load == "the embedded LLM generating" and 0 < (measured.text_ready_ms or 0) < 5000
    assert piper.first_chunk_ms < kokoro.first_chunk_ms  # Piper is the fast one everywhere
