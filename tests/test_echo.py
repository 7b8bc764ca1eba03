"""Echo cancellation: the assistant's own voice, coming back through a (synthesised) room, is not the user."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from assistant.audio.echo_path import EchoSimulation
from assistant.bench.rooms import room, write_impulse_response
from assistant.bench.spans import place, sound_times
from assistant.bench.wer import word_error_rate
from assistant.core.types import SAMPLE_RATE
from assistant.engines.vad import load_vad
from assistant.frontends.duplex import run_duplex
from tests.scripted import ScriptedLlm, ScriptedStt, ScriptedTts
from tests.util import JFK_TEXT

# About 12 s of speech: long enough that an uncancelled echo cuts it off many times over.
LONG_REPLY = ("Dragons appear in the stories of many peoples. In the old tales of Europe they guard gold in deep caves "
              "and breathe fire on the villages below. In the stories of China they bring the rain, and they are "
              "wise and kind. Knights rode out to fight them, and poets wrote songs about the battles for hundreds "
              "of years.")


def echo_config(config, *, cancel: bool):
    audio = dataclasses.replace(config.audio, echo_cancellation=cancel)
    tts = dataclasses.replace(config.tts, engine="piper")
    return dataclasses.replace(config, audio=audio, tts=tts,
                               conversation=dataclasses.replace(config.conversation, metrics_file=""))


def converse_with_echo(config, piper, wav, tmp_path, *, gain_db: float, room_name: str = "living-room"):
    from assistant.core.ports import Engines

    echo = EchoSimulation(write_impulse_response(room(room_name), tmp_path / "room.wav"), gain_db=gain_db)
    engines = Engines(load_vad(config), ScriptedStt("tell me about dragons"), ScriptedLlm([LONG_REPLY] * 4), piper)

    async def run():
        try:
            return await run_duplex(config, wav, tmp_path / "out.wav", engines=engines, echo=echo)
        finally:
            engines.vad.close()

    return asyncio.run(run())


@pytest.fixture
def question(jfk, tmp_path):
    """One question (2.3 s of speech at 0.3 s), then quiet long enough for the whole reply."""
    place([(0.3, jfk[: int(2.3 * SAMPLE_RATE)])], total_s=18.0, path=tmp_path / "in.wav")
    return tmp_path / "in.wav"


@pytest.mark.parametrize(("room_name", "gain_db"), [("living-room", 0.0), ("kitchen", -6.0)])
def test_with_echo_a_long_reply_plays_to_the_end_with_no_barge_in(config, piper, question, tmp_path, room_name,
                                                                   gain_db):
    result = converse_with_echo(echo_config(config, cancel=True), piper, question, tmp_path, gain_db=gain_db,
                                room_name=room_name)
    assert len(result.turns) == 1, [(turn.transcript, turn.outcome) for turn in result.turns]  # no phantom turn
    turn = result.turns[0]
    assert turn.outcome == "replied" and not turn.interrupted and turn.barge_in_ms is None
    assert word_error_rate(LONG_REPLY, turn.reply) == 0  # all of it was heard
    assert result.output_s > 10, "precondition: the reply is long"


def test_with_echo_and_no_cancelling_it_cuts_itself_off(config, piper, question, tmp_path):
    # the same room and echo as the first case above, which plays to the end with the canceller on
    result = converse_with_echo(echo_config(config, cancel=False), piper, question, tmp_path, gain_db=0.0)
    first = result.turns[0]
    # the echo is real: it cuts the reply off, or (each pause silencing its own echo before a barge-in is confirmed)
    # it keeps pausing it
    assert first.interrupted or len(result.turns) > 1 or result.soft_pauses >= 3, (result.turns, result.soft_pauses)


@pytest.mark.parametrize("gain_db", [0.0, -6.0])
def test_double_talk_a_cut_in_during_the_echoing_reply_silences_the_speaker_fast(config, piper, jfk, question_voice,
                                                                                 tmp_path, gain_db):
    # a voiced onset: a fricative one ("Stop") is slower to detect with or without echo (the bench has both)
    phrase, cut_in = jfk[: int(2.3 * SAMPLE_RATE)], question_voice("Wait, what is two plus two?")
    # the reply (from about 3 s) is in its second, long sentence by then, its echo in the microphone
    cut_in_at = 7.5
    truth = place([(0.3, phrase), (cut_in_at, cut_in)], total_s=14.0, path=tmp_path / "in.wav")
    result = converse_with_echo(echo_config(config, cancel=True), piper, tmp_path / "in.wav", tmp_path,
                                gain_db=gain_db)

    onset = truth[1][0]
    sound = sound_times(tmp_path / "out.wav")
    assert sound[sound < onset].size and onset - sound[sound < onset][-1] < 0.3, "precondition: it was speaking"
    played_on = sound[(sound >= onset) & (sound < onset + 0.6)]
    silent_after = played_on[-1] - onset if played_on.size else 0.0
    assert silent_after <= 0.15, f"still playing {silent_after * 1000:.0f} ms after the cut-in began"
    assert result.turns[0].interrupted
    print(f"double talk: speaker silent {silent_after * 1000:.0f} ms after the cut-in's onset")


def test_with_no_echo_the_cancelled_microphone_hears_the_question_as_before(config, stt, jfk, tmp_path):
    from assistant.core.ports import Engines

    place([(0.3, jfk)], total_s=13.0, path=tmp_path / "in.wav")
    heard = {}
    for cancel in (False, True):
        engines = Engines(load_vad(config), stt, ScriptedLlm(["Yes."] * 4), ScriptedTts())
        cfg = dataclasses.replace(echo_config(config, cancel=cancel), conversation=dataclasses.replace(
            config.conversation, metrics_file="", speculative_end_of_turn=False))

        async def run(cfg=cfg, engines=engines):
            try:
                return await run_duplex(cfg, tmp_path / "in.wav", None, engines=engines)
            finally:
                engines.vad.close()

        heard[cancel] = " ".join(turn.transcript for turn in asyncio.run(run()).turns)
    assert word_error_rate(JFK_TEXT, heard[True]) <= word_error_rate(JFK_TEXT, heard[False]) + 0.05, heard
    assert word_error_rate(JFK_TEXT, heard[True]) <= 0.1, heard

