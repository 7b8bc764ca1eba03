import subprocess
import sys

import soundfile

from tests.util import JFK_TEXT, REPO, TEST_DATA, isolated_config, word_error_rate


def run_cli(*args, cwd=REPO, timeout=180):
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_transcribe_prints_the_transcript_of_a_flac_file():
    result = run_cli("transcribe", str(TEST_DATA / "jfk.flac"))
    assert result.returncode == 0, result.stderr
    assert word_error_rate(JFK_TEXT, result.stdout) <= 0.10


def test_say_writes_kokoro_speech_that_whisper_understands(tmp_path):
    out = tmp_path / "hello.wav"
    result = run_cli("say", "Good morning, the kettle is on.", "--output", str(out))
    assert result.returncode == 0, result.stderr
    info = soundfile.info(str(out))
    assert info.samplerate == 24_000 and info.channels == 1 and info.duration > 1.0
    heard = run_cli("transcribe", str(out))
    assert word_error_rate("Good morning, the kettle is on.", heard.stdout) <= 0.2, heard.stdout


def test_nothing_to_say_is_a_one_line_error(tmp_path):
    result = run_cli("say", "🎉 **", "--output", str(tmp_path / "x.wav"))
    assert result.returncode == 1 and "nothing to say" in result.stderr and "Traceback" not in result.stderr


def test_missing_models_name_the_command_to_run(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ndir = "{tmp_path / "empty"}"\n')
    result = run_cli("--config", str(config), "transcribe", str(TEST_DATA / "jfk.flac"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "voice-assistant models pull" in result.stderr and result.stderr.count("\n") == 1


def test_ask_prints_a_json_summary_and_writes_the_reply(tmp_path, question_voice):
    import json

    from assistant.bench.spans import place

    place([(0.3, question_voice("What colour is the sky?"))], total_s=3.0, path=tmp_path / "in.wav")
    config = isolated_config(tmp_path, tts='engine = "piper"')
    result = run_cli("--config", str(config), "ask", str(tmp_path / "in.wav"), "--output", str(tmp_path / "out.wav"),
                     "--json", "--metrics", str(tmp_path / "asked.jsonl"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    (turn,) = summary["turns"]
    assert word_error_rate("What colour is the sky?", turn["transcript"]) <= 0.4, turn["transcript"]
    assert turn["reply"] and turn["interrupted"] is False
    assert set(turn["times_ms"]) >= {"speech_start", "speech_end", "end_of_turn", "stt_final", "llm_first_token",
                                     "first_tts_chunk", "first_audio"}
    assert turn["voice_to_voice_ms"] > 0 and summary["loop_stall_ms"]["max"] >= 0
    assert soundfile.info(str(tmp_path / "out.wav")).duration >= 3.0
    logged = [json.loads(line) for line in (tmp_path / "asked.jsonl").read_text().splitlines()]
    assert [t["transcript"] for t in logged] == [turn["transcript"]]
    assert not (tmp_path / "turns.jsonl").exists()  # the config's turn log is the user's conversations: not this run


def test_demo_runs_the_whole_pipeline_without_a_microphone(tmp_path):
    config = isolated_config(tmp_path)
    result = run_cli("--config", str(config), "demo", "--output", str(tmp_path / "demo.wav"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "you:       What is the capital of France?" in result.stdout
    assert "voice-to-voice" in result.stdout and "event loop: max stall" in result.stdout
    assert not (tmp_path / "turns.jsonl").exists()  # a demo is not the user's conversation
    info = soundfile.info(str(tmp_path / "demo.wav"))
    assert info.samplerate == 24_000 and info.duration > 3.0
