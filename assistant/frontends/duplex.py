"""Headless duplex mode: a WAV file as the microphone (in real time), a WAV file as the speaker.

OUT.wav is sample-aligned with IN.wav, so latency and barge-in can be checked from the two files alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.audio.echo_path import EchoSimulation
from assistant.audio.wav import WavMicrophone, WavSpeaker
from assistant.config import Config
from assistant.core.conversation import Conversation
from assistant.core.events import ConversationEvent
from assistant.core.history import Message
from assistant.core.loop_monitor import LoopMonitor
from assistant.core.ports import EngineInfo, Engines
from assistant.core.records import AFTER_SPEECH_END, Stage, TurnRecord
from assistant.core.tooling import Toolbox
from assistant.launch import launched_at
from assistant.session import AudioPlan, load_toolbox, open_session

POLL_S = 0.05
MAX_TAIL_S = 60.0  # after the input ends, a reply still playing may run this long at most


@dataclass
class DuplexResult:
    turns: list[TurnRecord]
    loop_stall_ms: dict[str, float]
    engines: tuple[EngineInfo, ...]
    input_s: float
    output_s: float
    history: list[Message]
    ready_at: float  # monotonic time the microphone started: the pipeline was ready to listen
    soft_pauses: int = 0  # the reply paused on a hint of speech this often

    def to_json(self) -> dict[str, Any]:
        return {"turns": [turn.to_json() for turn in self.turns], "loop_stall_ms": self.loop_stall_ms,
                "engines": [str(info) for info in self.engines],
                "input_s": round(self.input_s, 3), "output_s": round(self.output_s, 3),
                "ready_monotonic_s": self.ready_at, "launch_to_ready_s": round(self.ready_at - launched_at(), 3),
                "soft_pauses": self.soft_pauses}


async def run_duplex(config: Config, input_path: str | Path, output_path: str | Path | None,
                     metrics_path: str | Path | None = None, max_turns: int | None = None,
                     engines: Engines | None = None,
                     on_event: Callable[[ConversationEvent], None] | None = None,
                     control: Callable[[Conversation], Coroutine[Any, Any, None]] | None = None,
                     echo: EchoSimulation | None = None, toolbox: Toolbox | None = None,
                     watch_loop: bool = True) -> DuplexResult:
    """Play `input_path` into the pipeline as the microphone and record the speaker into `output_path`.

    Ends once the input has been played and the assistant is idle again (or after `max_turns` answered turns).
    Its turns go to `metrics_path` only: a run on files is never written into the user's own turn log.
    Timers set during the run live only for the run (unless `toolbox` says otherwise).
    `control`, if given, runs beside the conversation (e.g. pressing push-to-talk at set times); `echo`, if given,
    carries what the speaker plays into the microphone. `watch_loop` measures the event loop's stalls (a ticker
    waking it 200 times a second: off to measure the pipeline's own CPU).
    """
    plan = AudioPlan(input_wav=Path(input_path), output_wav=Path(output_path) if output_path else None, echo=echo)
    if toolbox is None and config.tools.enabled:
        # A run of its own, on the input's timeline: the user's timers are neither announced nor changed by it.
        toolbox = await asyncio.to_thread(load_toolbox, config, False)
    monitor = LoopMonitor()
    async with open_session(config, plan, engines=engines, metrics_path=metrics_path or "",
                            toolbox=toolbox) as session:
        conversation, microphone = session.conversation, session.capture
        assert isinstance(microphone, WavMicrophone) and isinstance(session.speaker, WavSpeaker)
        if on_event:
            conversation.subscribe(on_event)
        if watch_loop:
            monitor.start()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(conversation.run(), name="conversation")]
        if control:
            tasks.append(loop.create_task(control(conversation), name="control"))
        try:
            await _until_done(conversation, microphone, max_turns)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            monitor.stop()
    speaker = session.speaker
    return DuplexResult(conversation.records, monitor.summary_ms(), session.engines.about, microphone.duration,
                        len(speaker.audio) / speaker.sample_rate, conversation.history.messages, microphone.time_of(0),
                        conversation.soft_pauses)


async def _until_done(conversation: Conversation, microphone: WavMicrophone, max_turns: int | None) -> None:
    await asyncio.wait_for(_started(microphone), timeout=10)
    while True:
        await asyncio.sleep(POLL_S)
        answered = [record for record in conversation.records if record.answered]
        if max_turns is not None and len(answered) >= max_turns and conversation.idle:
            return
        if microphone.input_done.is_set():
            tail = time.monotonic() - microphone.time_of(len(microphone.audio))
            if conversation.idle or tail > MAX_TAIL_S:
                return


async def _started(microphone: WavMicrophone) -> None:
    while microphone.started_at is None:
        await asyncio.sleep(0.01)


def describe_turn(turn: TurnRecord) -> list[str]:
    """Human-readable lines for one turn: transcript, reply, and each stage's latency."""
    times = turn.times_ms
    lines = [f"you:       {turn.transcript or '(nothing heard)'}",
             f"assistant: {turn.reply or '(no reply)'}{'  [interrupted]' if turn.interrupted else ''}"]
    if turn.notice:
        lines.append(f"notice:    {turn.notice}")
    for call in turn.tool_calls:
        arguments = ", ".join(f"{name}={value!r}" for name, value in call.arguments.items())
        lines.append(f"tool:      {call.name}({arguments}) in {call.duration_ms:.0f} ms: {call.result}")
    end = times.get(Stage.SPEECH_END)
    if end is not None:
        stages = [f"{stage.label} +{times[stage] - end:.0f}" for stage in AFTER_SPEECH_END if stage in times]
        lines.append("latency:   after you stopped (ms): " + ", ".join(stages))
    if turn.voice_to_voice_ms is not None:
        lines.append(f"           voice-to-voice {turn.voice_to_voice_ms:.0f} ms")
    if turn.barge_in_ms is not None:
        lines.append(f"           barge-in: speaker silent {turn.barge_in_ms:.0f} ms after you started")
    if turn.stutter_gaps_ms:
        lines.append(f"           stutter: the speaker waited for speech {len(turn.stutter_gaps_ms)} times, "
                     f"{sum(turn.stutter_gaps_ms):.0f} ms in all (longest {max(turn.stutter_gaps_ms):.0f} ms)")
    return lines
