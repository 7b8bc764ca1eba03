"""The benchmark in its short mode: every metric is produced (the numbers themselves are for people, not asserts)."""

import json

import numpy as np
import soundfile

from assistant.bench.fixtures import barge_in_inputs, load_manifest, pause_inputs, question_inputs
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


def test_paused_fixtures_keep_every_word_and_insert_exactly_the_pause(tmp_path):
    inputs = pause_inputs(tmp_path)
    assert len({p.utterance.file for p in inputs}) >= 12  # at least 12 utterances, in several voices
    assert len({p.utterance.voice for p in inputs}) >= 6
    for paused in inputs[:6]:
        samples = paused.utterance.samples()
        heard = soundfile.read(str(paused.path), dtype="float32")[0]
        extra = len(heard) - len(samples)  # the lead, the pause and the tail: nothing of the speech is lost
        assert abs(np.sum(heard ** 2) - np.sum(samples ** 2)) < 1e-3 * np.sum(samples ** 2)
        assert extra > paused.pause_ms * 16
        assert paused.resume_s < paused.speech_end_s and paused.speech_end_s <= len(heard) / 16000


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
    turns = results["turn_taking"]
    for policy in ("silence", "smart"):
        assert turns[policy]["voice_to_voice_ms"]["n"] == 2, policy  # the same complete questions, both policies
        assert [rate["n"] for rate in turns[policy]["premature"].values()] == [1, 2], policy  # 400 | 650, 900 ms
    assert sum(turns["smart"]["decided_by"].values()) >= 3  # each paused question's turn(s) said how they ended
    assert 0 < turns["model_cpu_ms_per_decision"] < 1000
    process = results["process"]
    assert 0 < process["idle_cpu_percent"] < 100
    assert process["launch_to_ready_ms"] > 0 and process["peak_rss_mib"] > 100
    assert "voice-to-voice p50 / p95 / max ms" in printed and "goals:" in printed
    assert "premature end of turn on 500–900 ms pauses" in printed
    assert "not measured" not in printed


def test_the_echo_section_sums_up_per_minute_of_reply_and_judges_its_goals():
    from assistant.bench.echo import aec_cpu, summarize_echo
    from assistant.bench.report import echo_goals, echo_lines

    replies = {"on desk -6 dB": {"reply_speech_s": 30.0, "false_barge_ins": 0, "phantom_turns": 0, "soft_pauses": 1},
               "on kitchen -6 dB": {"reply_speech_s": 30.0, "false_barge_ins": 0, "phantom_turns": 0,
                                    "soft_pauses": 0},
               "off desk -6 dB": {"reply_speech_s": 0.5, "false_barge_ins": 1, "phantom_turns": 2, "soft_pauses": 3}}
    for key in list(replies):
        replies[key.replace("-6", "+0")] = replies[key]
    double_talk = [{"room": "desk", "gain_db": gain, "cut_in": "Wait.", "detected": ms is not None,
                    "silent_after_ms": ms, "playing": True} for gain in (-6.0, 0.0) for ms in (60.0, 90.0, None)]
    double_talk.append(double_talk[0] | {"playing": False})  # a cut-in before the reply began: not double talk
    measured = {"voice_to_voice_ms": {"p50": 500.0, "p95": 600.0, "max": 700.0, "n": 6}, "stt_wer": 0.05}
    cpu = aec_cpu(seconds=1.0)
    echo = summarize_echo({"replies": replies, "double_talk": double_talk, "aec_cpu": cpu,
                           "without_echo": {"on": measured, "off": measured}})

    assert echo["aec on, echo -6 dB"]["soft_pauses_per_min"] == 1.0  # 1 pause in one minute of reply
    off = echo["aec off, echo -6 dB"]
    assert off["cut_off"] == off["replies"] == 1 and off["false_barge_ins_per_min"] is None  # no rate from 0.5 s
    assert echo["double talk, echo -6 dB"]["detected"] == "2/3"
    assert echo["double talk, echo -6 dB"]["barge_in_ms"]["p50"] == 75.0
    assert 0 < cpu["per_frame_us"] < 10_000
    goals = dict(echo_goals(echo))
    assert goals["aec on, echo -6 dB: false barge-ins 0.0/min = 0"] is True
    assert goals["double talk, echo -6 dB: cut-ins detected 2/3 ≥ 95 %"] is False
    assert any(line.startswith("  canceller CPU:") for line in echo_lines(echo))
