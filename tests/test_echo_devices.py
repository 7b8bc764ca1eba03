"""Echo cancellation on the real device path: the virtual speaker's sound looped back into the virtual microphone
(module-loopback: real buffering, real device timing), the assistant listening through sounddevice."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from assistant.core.events import TurnFinished
from assistant.core.ports import Engines
from assistant.core.records import TurnRecord
from assistant.core.types import SAMPLE_RATE
from assistant.engines.vad import load_vad
from assistant.session import open_session
from tests.pulse import play_into_mic, speaker_echo
from tests.scripted import ScriptedLlm, ScriptedStt
from tests.test_echo import LONG_REPLY

pytestmark = pytest.mark.usefixtures("audio_devices")
AFTER_THE_REPLY_S = 2.0  # listened on after the reply ended: an echo heard late would start a turn here


def converse_on_devices(config, piper, jfk, *, cancel: bool) -> list[TurnRecord]:
    config = dataclasses.replace(
        config, audio=dataclasses.replace(config.audio, echo_cancellation=cancel),
        conversation=dataclasses.replace(config.conversation, metrics_file=""))
    engines = Engines(load_vad(config), ScriptedStt("tell me about dragons"), ScriptedLlm([LONG_REPLY] * 4), piper)

    async def run() -> list[TurnRecord]:
        async with open_session(config, engines=engines) as session:
            records: asyncio.Queue[TurnRecord] = asyncio.Queue()
            session.conversation.subscribe(
                lambda event: records.put_nowait(event.record) if isinstance(event, TurnFinished) else None)
            runner = asyncio.get_running_loop().create_task(session.conversation.run())
            try:
                await asyncio.sleep(0.5)
                await asyncio.to_thread(play_into_mic(jfk[: int(2.3 * SAMPLE_RATE)], SAMPLE_RATE).wait)
                first = await asyncio.wait_for(records.get(), timeout=40)
                await asyncio.sleep(AFTER_THE_REPLY_S)
                return [first] + [records.get_nowait() for _ in range(records.qsize())]
            finally:
                runner.cancel()
                await asyncio.gather(runner, return_exceptions=True)
                engines.vad.close()

    with speaker_echo(latency_msec=30, gain_db=-3.0):
        return asyncio.run(run())


def test_on_devices_with_echo_the_reply_plays_to_the_end(config, piper, jfk):
    turns = converse_on_devices(config, piper, jfk, cancel=True)
    assert [turn.outcome for turn in turns] == ["replied"], [(turn.transcript, turn.outcome) for turn in turns]
    assert turns[0].barge_in_ms is None and turns[0].reply.endswith("hundreds of years.")


def test_on_devices_with_echo_and_no_cancelling_it_cuts_itself_off(config, piper, jfk):
    turns = converse_on_devices(config, piper, jfk, cancel=False)
    assert turns[0].interrupted or len(turns) > 1, [(turn.transcript, turn.outcome) for turn in turns]
