import asyncio
import json

import numpy as np

from assistant.audio.buffer import ChunkBuffer
from assistant.core.history import History, Message
from assistant.core.loop_monitor import LoopMonitor
from assistant.core.ports import PlayingChunk
from assistant.core.records import Outcome, Stage, TurnRecord
from assistant.core.turn_log import TurnLog
from assistant.core.types import AudioChunk


def test_history_drops_oldest_turns_first_and_keeps_the_newest():
    history = History(budget_chars=40)
    for i in range(5):
        history.add(Message("user", f"question {i} ....."))  # 17 chars
        history.add(Message("assistant", f"answer {i} ......"))  # 16 chars
    assert history.size <= 40
    assert history.messages[0].role == "user"  # never starts with an orphaned reply
    assert history.messages[-1].content == "answer 4 ......"


def test_interrupted_reply_is_marked_for_the_llm_and_empty_replies_are_skipped():
    history = History(budget_chars=1000)
    history.add(Message("user", "tell me a story"))
    history.add(Message("assistant", ""))
    history.add(Message("user", "go on"))
    history.add(Message("assistant", "Once upon a", interrupted=True))
    assert history.for_llm() == [{"role": "user", "content": "tell me a story"}, {"role": "user", "content": "go on"},
                                 {"role": "assistant", "content": "Once upon a…"}]


def chunk(samples: int, text: str = "x") -> AudioChunk:
    return AudioChunk(np.ones(samples, dtype=np.float32), 24_000, text)


def test_chunk_buffer_reports_starts_and_ends_inside_blocks_then_silence():
    async def run():
        buffer = ChunkBuffer()
        a, b = PlayingChunk(chunk(300)), PlayingChunk(chunk(100))
        buffer.add(a)
        buffer.add(b)
        first = buffer.pull(256)
        second = buffer.pull(256)
        return a, b, first, second, buffer

    a, b, first, second, buffer = asyncio.run(run())
    assert first.started == [(a, 0)] and first.finished == []
    assert second.started == [(b, 44)] and second.finished == [(a, 44), (b, 144)]
    assert second.samples[:144].all() and not second.samples[144:].any()
    assert buffer.queued_samples == 0


def test_clearing_the_buffer_drops_the_rest_and_keeps_what_was_played():
    async def run():
        buffer = ChunkBuffer()
        a = PlayingChunk(chunk(1000, "one two three four"))
        buffer.add(a)
        buffer.pull(500)
        dropped = buffer.discard()
        return a, dropped, buffer.pull(10)

    a, dropped, after = asyncio.run(run())
    assert dropped == [a] and a.played_fraction == 0.5
    assert not after.samples.any()


def test_turn_log_appends_one_json_line_per_turn(tmp_path):
    path = tmp_path / "logs" / "turns.jsonl"
    log = TurnLog(path)
    asyncio.run(log.append(TurnRecord(1)))
    asyncio.run(log.append(TurnRecord(2, transcript="héllo", outcome=Outcome.REPLIED,
                                      times_ms={Stage.SPEECH_END: 1200.04, Stage.FIRST_AUDIO: 1800.0})))
    log.close()
    first, second = [json.loads(line) for line in path.read_text().splitlines()]
    assert first == TurnRecord(1).to_json() and first["outcome"] == "pending"
    assert second["transcript"] == "héllo" and second["outcome"] == "replied"
    assert second["times_ms"] == {"speech_end": 1200.0, "first_audio": 1800.0} and second["voice_to_voice_ms"] == 600.0


def test_loop_monitor_sees_a_blocking_call():
    async def run():
        monitor = LoopMonitor(interval=0.005)
        monitor.start()
        await asyncio.sleep(0.05)
        import time
        time.sleep(0.08)  # a deliberate stall of the event loop
        await asyncio.sleep(0.05)
        monitor.stop()
        return monitor.summary_ms()

    summary = asyncio.run(run())
    assert 60 <= summary["max"] <= 200
