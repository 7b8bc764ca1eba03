"""`voice-assistant listen` (or `--no-tui`): talk through the real microphone and speaker, in the terminal."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

from assistant.config import Config
from assistant.core.events import Announced, ConversationEvent, FinalTranscript, ModeChanged, Notice, TurnFinished
from assistant.core.ports import EngineInfo
from assistant.core.records import Outcome
from assistant.core.types import Mode
from assistant.frontends.duplex import describe_turn
from assistant.launch import launched_at
from assistant.session import open_session


def console_printer(write: Callable[[str], None] = print) -> Callable[[ConversationEvent], None]:
    def show(event: ConversationEvent) -> None:
        if isinstance(event, FinalTranscript) and event.text:
            write(f"you said:  {event.text}")
        elif isinstance(event, TurnFinished) and event.record.outcome != Outcome.NO_SPEECH:
            write("\n".join(describe_turn(event.record)[1:]) + "\n")
        elif isinstance(event, Notice):
            write(f"notice:    {event.message}")
        elif isinstance(event, Announced):
            write(f"timer:     {event.text}")
        elif isinstance(event, ModeChanged):
            write(f"mode:      {event.mode}")

    return show


async def run_listen(config: Config, progress: Callable[[str], None] = print) -> None:
    """Until cancelled (Ctrl+C): the always-listening or push-to-talk conversation on the real devices."""

    def ready(info: EngineInfo) -> None:
        progress(f"{info.role} ready: {info.name}" + (f" ({info.why})" if info.why else ""))

    async with open_session(config, on_engine_ready=ready) as session:
        conversation = session.conversation
        conversation.subscribe(console_printer(progress))
        keys = conversation.mode == Mode.PUSH_TO_TALK and sys.stdin.isatty()
        loop = asyncio.get_running_loop()
        if keys:
            def key_pressed() -> None:
                sys.stdin.readline()
                conversation.push_to_talk()

            loop.add_reader(sys.stdin.fileno(), key_pressed)
            progress("push-to-talk: press Enter to start speaking, Enter again when you are done")
        else:
            progress(f"listening ({time.monotonic() - launched_at():.1f} s after launch): just talk (Ctrl+C quits)")
        try:
            await conversation.run()
        finally:
            if keys:
                loop.remove_reader(sys.stdin.fileno())
            overflows, underflows = session.microphone.overflows, session.speaker.underflows
            if overflows or underflows:
                progress(f"audio: {overflows} input overflows, {underflows} output underflows")
