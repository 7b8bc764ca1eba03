"""`voice-assistant listen` (or `--no-tui`): talk through the real microphone and speaker, in the terminal."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from assistant.audio.devices import DeviceMicrophone, DeviceSpeaker, resolve_device
from assistant.config import Config
from assistant.core.conversation import Conversation
from assistant.core.events import ConversationEvent, FinalTranscript, ModeChanged, Notice, TurnFinished
from assistant.core.turn_log import TurnLog
from assistant.core.types import PUSH_TO_TALK
from assistant.engines.loading import load_engines
from assistant.frontends.duplex import describe_turn


def console_printer(write: Callable[[str], None] = print) -> Callable[[ConversationEvent], None]:
    def show(event: ConversationEvent) -> None:
        if isinstance(event, FinalTranscript) and event.text:
            write(f"you said:  {event.text}")
        elif isinstance(event, TurnFinished) and event.record["outcome"] != "no speech":
            write("\n".join(describe_turn(event.record)[1:]) + "\n")
        elif isinstance(event, Notice):
            write(f"notice:    {event.message}")
        elif isinstance(event, ModeChanged):
            write(f"mode:      {event.mode}")

    return show


async def run_listen(config: Config, progress: Callable[[str], None] = print) -> None:
    """Until cancelled (Ctrl+C): the always-listening or push-to-talk conversation on the real devices."""
    input_device = resolve_device(config.audio.input_device, "input")
    output_device = resolve_device(config.audio.output_device, "output")
    engines = await load_engines(config, progress)
    microphone = DeviceMicrophone(input_device)
    speaker = DeviceSpeaker(config.audio.output_sample_rate, output_device)
    conversation = Conversation(config, engines, microphone, speaker, TurnLog(config.conversation.metrics_file))
    show = console_printer(progress)
    conversation.subscribe(show)
    microphone.notify = speaker.notify = lambda message: show(Notice(message))  # a mic gone, lost audio
    loop = asyncio.get_running_loop()
    if config.audio.mode == PUSH_TO_TALK and sys.stdin.isatty():
        loop.add_reader(sys.stdin.fileno(), lambda: (sys.stdin.readline(), conversation.push_to_talk()))
        progress("push-to-talk: press Enter to start speaking, Enter again when you are done")
    else:
        progress("listening: just talk (Ctrl+C quits)")
    try:
        await conversation.run()
    finally:
        if config.audio.mode == PUSH_TO_TALK and sys.stdin.isatty():
            loop.remove_reader(sys.stdin.fileno())
        await conversation.close()
        microphone.close()
        speaker.close()
        await engines.close()
        if microphone.overflows or speaker.underflows:
            progress(f"audio: {microphone.overflows} input overflows, {speaker.underflows} output underflows")
