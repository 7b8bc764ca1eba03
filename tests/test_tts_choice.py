"""`[tts] engine = "auto"`: the pick from injected measurements, and the measurement cache (round trip, keys,
invalidation, a broken file). The real measurement runs in test_doctor (doctor --remeasure)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from assistant.config import Config
from assistant.engines import tts_measure
from assistant.engines.tts_choice import KOKORO_MAX_RTF, decide, predicted_voice_to_voice_ms
from assistant.engines.tts_measure import TtsMeasurement, cache_key, cached_measurements, read_cache, write_cache

PIPER = TtsMeasurement(first_chunk_ms=120.0, rtf=0.1, load="the embedded LLM generating", text_ready_ms=180.0)


def kokoro(first_chunk_ms: float, rtf: float = 0.4) -> TtsMeasurement:
    return TtsMeasurement(first_chunk_ms, rtf, "the embedded LLM generating", text_ready_ms=180.0)


def with_tts(**tts) -> Config:
    config = Config()
    return dataclasses.replace(config, tts=dataclasses.replace(config.tts, **tts))


def test_kokoro_is_picked_when_it_answers_in_time_and_keeps_up():
    verdict = decide(Config(), kokoro(400.0), PIPER)
    assert verdict.engine == "kokoro" and verdict.fallback is None
    assert verdict.why == "auto: voice-to-voice ≈ 830 ms (≤ 900), real-time factor 0.40 with the LLM running"


def test_a_slow_first_chunk_means_piper_with_the_reason():
    verdict = decide(Config(), kokoro(600.0), PIPER)
    assert verdict.engine == "piper"
    assert verdict.fallback == ("Kokoro would answer in ≈ 1030 ms here (over [tts] max_first_audio_ms = 900; first "
                                "chunk 600 ms with the LLM running)")
    assert verdict.why.startswith(f"auto: {verdict.fallback}; Piper ≈ 550 ms")  # 250 + 180 + 120


def test_the_limit_is_a_setting():
    assert decide(with_tts(max_first_audio_ms=1100.0), kokoro(600.0), PIPER).engine == "kokoro"
    assert decide(with_tts(max_first_audio_ms=800.0), kokoro(400.0), PIPER).engine == "piper"


def test_a_kokoro_slower_than_its_speech_under_load_would_stutter():
    verdict = decide(Config(), kokoro(300.0, rtf=KOKORO_MAX_RTF), PIPER)
    assert verdict.engine == "piper" and "stutter" in (verdict.fallback or "")
    assert decide(Config(), kokoro(300.0, rtf=KOKORO_MAX_RTF - 0.01), PIPER).engine == "kokoro"


def test_without_speculative_end_of_turn_the_stages_add_up():
    base = Config()
    config = dataclasses.replace(base, turn=dataclasses.replace(base.turn, end_of_turn="silence"))
    slow = dataclasses.replace(config, conversation=dataclasses.replace(config.conversation,
                                                                        speculative_end_of_turn=False))
    assert predicted_voice_to_voice_ms(config, kokoro(400.0)) == 830.0  # 250 + 180 + 400, past the 570 ms hangover
    assert predicted_voice_to_voice_ms(slow, kokoro(400.0)) == 570.0 + 830.0
    assert predicted_voice_to_voice_ms(config, PIPER) == 570.0  # the hangover decides Piper's


def test_with_the_end_of_turn_model_a_finished_question_is_confirmed_sooner():
    config = Config()  # end_of_turn = "smart": asked after 160 ms, about 120 ms more to the turn's end
    fast_voice = TtsMeasurement(first_chunk_ms=10.0, rtf=0.1, load="idle", text_ready_ms=0.0)
    assert predicted_voice_to_voice_ms(config, fast_voice) == 280.0  # the confirmation: 160 + 120
    assert predicted_voice_to_voice_ms(config, PIPER) == 550.0  # then the transcript → text → audio path


def test_the_cache_round_trips_and_keeps_other_keys(tmp_path):
    path = tmp_path / "deep" / "tts-measurements.json"
    write_cache(path, {"a": PIPER})
    write_cache(path, {"b": kokoro(500.0)})
    assert read_cache(path) == {"a": PIPER, "b": kokoro(500.0)}


def test_the_key_changes_with_what_changes_the_numbers():
    config = Config()
    keys = {cache_key(config, "kokoro"), cache_key(config, "piper"),
            cache_key(with_tts(kokoro=dataclasses.replace(config.tts.kokoro, threads=1)), "kokoro"),
            cache_key(with_tts(kokoro=dataclasses.replace(config.tts.kokoro, voice="bm_george")), "kokoro"),
            cache_key(dataclasses.replace(config, llm=dataclasses.replace(
                config.llm, embedded=dataclasses.replace(config.llm.embedded, yield_to_speech=False))), "kokoro")}
    assert len(keys) == 5
    assert cache_key(config, "kokoro") == cache_key(Config(), "kokoro")
    assert cache_key(with_tts(max_first_audio_ms=500.0), "kokoro") == cache_key(config, "kokoro")  # a decision only


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """measure_engines stood in by made-up numbers, counting its calls; the cache in a temporary folder."""
    calls = []

    async def measure(config):
        calls.append(config)
        return {"kokoro": kokoro(400.0), "piper": PIPER}

    monkeypatch.setattr(tts_measure, "measure_engines", measure)
    monkeypatch.setattr(tts_measure, "cache_path", lambda: tmp_path / "tts-measurements.json")
    return calls


def test_measured_once_then_cached_until_remeasured_or_the_config_changes(counted):
    config = Config()
    first, spent = asyncio.run(cached_measurements(config))
    assert first == {"kokoro": kokoro(400.0), "piper": PIPER} and len(counted) == 1
    again, spent = asyncio.run(cached_measurements(config))
    assert again == first and spent == 0.0 and len(counted) == 1
    asyncio.run(cached_measurements(config, remeasure=True))
    assert len(counted) == 2
    asyncio.run(cached_measurements(with_tts(kokoro=dataclasses.replace(config.tts.kokoro, threads=1))))
    assert len(counted) == 3


@pytest.mark.parametrize("content", ["{not json", '{"format": 1, "measurements": {"k": {"rtf": 1}}}', "[1, 2]",
                                     '{"format": 1}'])
def test_a_broken_cache_is_set_aside_with_one_line_and_measured_again(counted, tmp_path, caplog, content):
    path = tmp_path / "tts-measurements.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING):
        measured, _ = asyncio.run(cached_measurements(Config()))
    assert measured["piper"] == PIPER and len(counted) == 1
    [record] = caplog.records
    assert "\n" not in record.getMessage() and "set aside" in record.getMessage() and record.exc_info is None
    assert (tmp_path / "tts-measurements.json.broken").read_text() == content
    assert read_cache(path)  # the new measurements are kept
