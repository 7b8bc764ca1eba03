"""Timers going off in the middle of a conversation: between two sentences of a reply, and cut off by a barge-in
like any reply. The real VAD and Piper in headless duplex mode; the reply comes from the Ollama stand-in (its
pacing is the test's), the timer is set by a typed request."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import numpy as np
import soundfile

from assistant.bench.spans import place, sound_times
from assistant.config import ToolsConfig
from assistant.core.events import Announced
from assistant.core.tooling import ToolCall
from assistant.engines.llm.ollama import OllamaLlm
from assistant.tools.clock import Clock, say_clock
from assistant.tools.toolbox import open_toolbox
from tests.ollama_standin import OllamaStandIn, Script
from tests.scripted import RecordingTts, converse
from tests.test_tool_calls import MODEL, ollama_config

STORY = [f"Sentence number {n} of the story goes on for a while. " for n in range(1, 9)]


def run(config, tmp_path, stt, piper, control, seconds: float, speech=()):
    if speech:
        place(list(speech), total_s=seconds, path=tmp_path / "in.wav")
    else:
        soundfile.write(str(tmp_path / "in.wav"), np.zeros(int(seconds * 16000), dtype=np.float32), 16000)
    tools_config = ToolsConfig(state_file=str(tmp_path / "timers.json"))
    config = dataclasses.replace(config, tools=tools_config)
    tts, events = RecordingTts(piper), []
    result, notices = converse(config, tmp_path / "in.wav", tmp_path, stt, OllamaLlm(config.llm), tts,
                               on_event=events.append, control=control, toolbox=open_toolbox(tools_config))
    assert notices == []
    return result, tts, [event.text for event in events if isinstance(event, Announced)]


def test_a_timer_due_during_a_reply_cuts_in_between_two_sentences(config, tmp_path, stt, piper):
    with OllamaStandIn(models=[MODEL]) as standin:
        standin.script(Script(tokens=STORY, token_delay_s=0.05))

        async def control(conversation) -> None:
            await asyncio.sleep(0.3)
            await conversation.toolbox.call(ToolCall("set_timer", {"duration": "4 seconds", "label": "tea"}))
            conversation.submit_text("Tell me a story.")

        result, tts, announced = run(ollama_config(config, standin.host), tmp_path, stt, piper, control, 25.0)

    assert announced == ["The tea timer is done."]
    [turn] = result.turns  # no turn of its own: it was said within the reply
    assert turn.outcome == "replied" and turn.reply.strip() == "".join(STORY).strip()
    said = tts.texts
    at = said.index("The tea timer is done.")
    assert 0 < at < len(said) - 1, said  # after a sentence of the story, and before its end
    assert " ".join(said[:at] + said[at + 1:]) == "".join(STORY).strip()  # all of the story, in order


def test_a_barge_in_stops_an_announcement(config, tmp_path, stt, piper, question_voice):
    cut_in = question_voice("Okay, thanks.")
    with OllamaStandIn(models=[MODEL]) as standin:

        async def control(conversation) -> None:
            await asyncio.sleep(0.3)
            await conversation.toolbox.call(ToolCall("set_timer", {"duration": "2 seconds", "label": "pasta"}))

        # the chime starts at ~2.3 s, the words follow it; the user speaks over them at 2.7 s
        result, _, announced = run(ollama_config(config, standin.host), tmp_path, stt, piper, control, 7.0,
                                   speech=[(2.7, cut_in)])

    assert announced == ["The pasta timer is done."]
    announcement = result.turns[0]
    assert announcement.transcript == "" and announcement.outcome == "interrupted"
    assert announcement.barge_in_ms is not None and announcement.barge_in_ms < 300
    sound = sound_times(tmp_path / "out.wav")
    assert sound[(sound > 2.2) & (sound < 2.7)].size, "precondition: the announcement was playing"
    assert not sound[(sound > 3.0) & (sound < 3.6)].size, "the announcement went on over the user"


def test_a_timer_missed_while_off_is_announced_once_at_the_next_start(config, tmp_path, stt, piper):
    # The last session set a one-minute timer five minutes ago (its clock moved back), then it was closed.
    earlier = Clock(lambda: time.time() - 300)
    state = ToolsConfig(state_file=str(tmp_path / "timers.json"))
    asyncio.run(open_toolbox(state, earlier).call(ToolCall("set_timer", {"duration": "1 minute", "label": "tea"})))
    missed_at = say_clock(earlier.local(earlier.now() + 60))

    async def nothing(conversation) -> None:
        pass

    with OllamaStandIn(models=[MODEL]) as standin:
        config = ollama_config(config, standin.host)
        result, _, announced = run(config, tmp_path, stt, piper, nothing, 4.0)
        assert announced == [f"While I was off, the tea timer went off at {missed_at}."]
        assert result.turns[0].outcome == "replied"
        assert sound_times(tmp_path / "out.wav")[0] < 0.2  # at once: nobody was speaking
        _, _, announced_again = run(config, tmp_path, stt, piper, nothing, 2.0)
    assert announced_again == []
