"""The benchmark in its short mode: every metric is produced (the numbers themselves are for people, not asserts)."""

import json

from assistant.bench.fixtures import barge_in_inputs, load_manifest, question_inputs
from assistant.cli import main
from tests.util import isolated_config


def test_the_fixtures_are_many_voices_and_their_ground_truth_fits_the_audio(tmp_path):
    manifest = load_manifest()
    questions = manifest["questions"]
    assert len(questions) >= 12 and len(manifest["cut_ins"]) >= 10
    assert "kokoro:af_heart" not in {u.voice for u in questions}  # never the assistant's own voice
    assert {u.voice.split(":")[0] for u in questions} == {"kokoro", "espeak", "recorded"}
    for question in question_inputs(tmp_path):
        length_s = len(question.utterance.samples()) / 16000
        assert 0 <= question.utterance.speech_start_s < question.utterance.speech_end_s <= length_s
    cut_ins = barge_in_inputs(tmp_path, reply_start_s=1.0)
    onsets = [fixture.cut_in_onset_s - fixture.prompt.speech_end_s for fixture in cut_ins]
    assert len(set(onsets)) == len(onsets)  # each cut-in lands at another point of the reply


def test_short_bench_produces_every_metric(tmp_path, capsys):
    config = isolated_config(tmp_path)
    assert main(["--config", str(config), "bench", "--short", "--json", str(tmp_path / "bench.json")]) == 0
    printed = capsys.readouterr().out
    results = json.loads((tmp_path / "bench.json").read_text())
    piper = results["engines"]["piper"]
    for key in ("voice_to_voice_ms", "barge_in_ms", "barge_in_pipeline_ms"):
        assert piper[key]["n"] >= 1 and piper[key]["p50"] is not None, key
        assert piper[key]["p50"] <= piper[key]["p95"] <= piper[key]["max"], key
    stages = piper["stages_after_speech_end_ms"]
    assert list(stages) == ["end_of_turn", "stt_final", "llm_first_token", "first_chunk", "first_tts_chunk",
                            "first_audio"]
    assert piper["voice_to_voice_ms"]["p50"] > 0 and piper["first_chunk_synthesis_ms"] > 0
    assert piper["loop_stall_ms"]["max"] >= piper["loop_stall_ms"]["p99"] >= 0
    assert 0 <= piper["stt_wer"] <= 1
    assert piper["sequential"]["time_to_first_audio_ms"]["n"] == 2 and piper["sequential_over_async"] > 0
    process = results["process"]
    assert 0 < process["idle_cpu_percent"] < 100
    assert process["launch_to_ready_ms"] > 0 and process["peak_rss_mib"] > 100
    assert "voice-to-voice p50 / p95 / max ms" in printed and "goals:" in printed
    assert "not measured" not in printed
