"""Timers set by voice in headless duplex mode, with the real engines (Silero, Whisper, SmolLM2, Piper): the
embedded model cannot call tools, so the intent layer sets the timer; it goes off on the input timeline, at the
right sample of OUT.wav, and never over the user."""

from __future__ import annotations

import asyncio
import dataclasses

from assistant.bench.spans import first_sample_time, place, sound_times
from assistant.core.events import Announced
from assistant.frontends.duplex import describe_turn, run_duplex

ON_TIME_S = 0.05


def with_engines(config, tmp_path):
    return dataclasses.replace(
        config,
        llm=dataclasses.replace(config.llm, backend="embedded", max_tokens=40),
        tts=dataclasses.replace(config.tts, engine="piper"),
        conversation=dataclasses.replace(config.conversation, metrics_file=""))


def test_a_timer_set_by_voice_goes_off_ten_seconds_later_in_out_wav(config, question_voice, tmp_path):
    place([(0.5, question_voice("Set a timer for ten seconds."))], total_s=18.0, path=tmp_path / "in.wav")
    announced: list[str] = []
    result = asyncio.run(run_duplex(with_engines(config, tmp_path), tmp_path / "in.wav", tmp_path / "out.wav",
                                    on_event=lambda e: announced.append(e.text) if isinstance(e, Announced) else None))

    request, announcement = result.turns
    [call] = request.tool_calls
    assert call.name == "set_timer" and not call.failed, request
    assert request.reply == "Timer set for 10 seconds."
    assert "tool:      set_timer(duration='10 seconds') in " in "\n".join(describe_turn(request))
    assert announced == ["The timer is done."] and announcement.reply == "The timer is done."
    due_s = (call.started_ms + call.duration_ms) / 1000 + 10.0
    chime_s = first_sample_time(tmp_path / "out.wav", after_s=due_s - 3.0)
    print(f"\ntimer due at {due_s:.3f} s of the input; its chime starts at {chime_s:.3f} s of OUT.wav "
          f"({(chime_s - due_s) * 1000:+.1f} ms)")
    assert abs(chime_s - due_s) <= ON_TIME_S
    assert result.history[-1].content == "The timer is done."


def test_a_timer_due_while_the_user_speaks_waits_until_they_finish(config, question_voice, tmp_path):
    question = question_voice("Tell me a short fact about the moon, and then another fact about the sun.")
    truth = place([(0.5, question_voice("Set a timer for six seconds.")), (7.5, question)], total_s=22.0,
                  path=tmp_path / "in.wav")
    announced: list[str] = []
    result = asyncio.run(run_duplex(with_engines(config, tmp_path), tmp_path / "in.wav", tmp_path / "out.wav",
                                    on_event=lambda e: announced.append(e.text) if isinstance(e, Announced) else None))

    call = result.turns[0].tool_calls[0]
    due_s = (call.started_ms + call.duration_ms) / 1000 + 6.0
    onset, offset = truth[1]
    assert onset + 0.3 < due_s < offset - 0.3, "precondition: the timer is due while the user speaks"
    assert announced == ["The timer is done."]
    sound = sound_times(tmp_path / "out.wav")
    assert not sound[(sound > onset + 0.2) & (sound < offset)].size, "something played over the user"
    assert result.turns[1].outcome == "replied" and not result.turns[1].interrupted
    later = sound[sound > offset]
    assert later.size, "nothing was said after the user finished"
