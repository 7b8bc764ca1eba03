"""Stutter: where the speaker ran dry inside a reply, waiting for the next chunk of speech, is in the turn record."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from assistant.core.ports import PlayingChunk
from assistant.core.reply import Reply
from assistant.core.types import AudioChunk
from tests.scripted import ScriptedLlm, ScriptedStt, ScriptedTts, converse, fast_config

REPLY = "One. Two. Three."  # 0.24 s of tone each: a voice taking 0.6 s per chunk runs dry twice


def test_dry_gaps_are_the_waits_between_chunks_and_nothing_else():
    reply = Reply(1, lambda event: None)
    times = [(0.0, 1.0), (1.0, 2.0), (2.25, 3.0), (3.0, None)]  # ran dry once, for 250 ms; the last still plays
    for started, finished in times:
        playing = PlayingChunk(AudioChunk(np.zeros(10, dtype=np.float32), 16000, "x"))
        playing.mark_started(started)
        if finished is not None:
            playing.mark_finished(finished)
        reply.playing.append(playing)
    assert reply.dry_gaps_ms() == pytest.approx([250.0])


@pytest.mark.parametrize("synthesis_s", [0.02, 0.6])
def test_a_slow_voice_leaves_gaps_in_the_reply_and_the_record_says_how_long(config, questions, tmp_path,
                                                                           synthesis_s):
    wav, _ = questions(1)
    result, _ = converse(fast_config(config), wav, tmp_path, ScriptedStt(), ScriptedLlm([REPLY] * 2),
                         ScriptedTts(delay=synthesis_s))
    turn = result.turns[0]
    assert turn.outcome == "replied"
    played, rate = soundfile.read(str(tmp_path / "out.wav"), dtype="float32")
    loud = np.flatnonzero(np.abs(played) > 0.01) / rate
    silences = np.diff(loud)[np.diff(loud) > 0.05] * 1000  # the gaps inside the reply, as heard in OUT.wav
    if synthesis_s < 0.1:  # each next chunk is ready before the one before it ends
        assert turn.stutter_gaps_ms == () and silences.size == 0
    else:
        assert len(turn.stutter_gaps_ms) == 2, turn.stutter_gaps_ms
        assert np.allclose(turn.stutter_gaps_ms, silences, atol=25), (turn.stutter_gaps_ms, silences)
    assert turn.to_json()["stutter"]["gaps"] == len(turn.stutter_gaps_ms)
