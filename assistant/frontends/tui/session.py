"""Wires the engines, the microphone, the speaker and the conversation, all on the app's event loop.

The session never touches a widget: it reports up by posting messages (`report`), and the app calls its methods
down. The heavy pipeline modules (~0.7 s of imports) are imported off the loop, so the first frame never waits.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from assistant.config import Config
from assistant.core.events import Notice
from assistant.core.ports import Microphone, Speaker
from assistant.core.types import ALWAYS_LISTENING, PUSH_TO_TALK
from assistant.errors import UserError
from assistant.frontends.tui.audio_setup import open_audio
from assistant.frontends.tui.messages import ConversationUpdate, EngineInfo, EngineProgress, SessionFailed, SessionReady

if TYPE_CHECKING:
    from assistant.core.conversation import Conversation
    from assistant.core.ports import Engines

log = logging.getLogger(__name__)

LoadEngines = Callable[[Config, Callable[[str], None]], Awaitable["Engines"]]
OpenAudio = Callable[[Config, str | Path | None], Awaitable[tuple[Microphone, Speaker]]]


class Session:
    def __init__(self, config: Config, input_path: str | Path | None = None, *,
                 load_engines: LoadEngines | None = None, open_audio: OpenAudio = open_audio) -> None:
        self.config = config
        self.input_path = input_path
        self._load_engines = load_engines  # None: the real ones
        self._open_audio = open_audio
        self.conversation: Conversation | None = None

    async def run(self, report: Callable[[Message], object]) -> None:
        """Until cancelled: open the audio, load the engines, converse. A failure is reported, never raised."""
        microphone = speaker = engines = None
        try:
            await asyncio.to_thread(importlib.import_module, "assistant.core.conversation")  # the engines' modules too
            from assistant.core.conversation import Conversation
            from assistant.core.turn_log import TurnLog
            from assistant.engines.loading import load_engines

            microphone, speaker = await self._open_audio(self.config, self.input_path)
            engines = await (self._load_engines or load_engines)(self.config,
                                                                 lambda line: report(EngineProgress(line)))
            conversation = Conversation(self.config, engines, microphone, speaker,
                                        TurnLog(self.config.conversation.metrics_file))
            conversation.subscribe(lambda event: report(ConversationUpdate(event)))
            for device in (microphone, speaker):
                if hasattr(device, "notify"):  # the sound devices' faults (a mic gone, lost audio) as notices
                    device.notify = lambda message: report(ConversationUpdate(Notice(message)))
            self.conversation = conversation
            report(SessionReady(engine_info(engines), conversation.mode, startup_notices(engines)))
            await conversation.run()
        except Exception as error:
            if not isinstance(error, UserError):
                log.exception("the session failed")
            report(SessionFailed(error))
        finally:
            if self.conversation is not None:
                await self.conversation.close()
                self.conversation = None
            for device in (microphone, speaker):
                if device is not None:
                    device.close()
            if engines is not None:
                await engines.close()

    # ---- controls: each is a no-op until the conversation runs

    def push_to_talk(self) -> None:
        """Start a turn (cutting the assistant off), or end the one in progress."""
        if self.conversation is not None:
            self.conversation.push_to_talk()

    def stop_speaking(self) -> None:
        """Cut the assistant off; what was played stays in the history, marked interrupted."""
        if self.conversation is not None:
            self.conversation.interrupt()

    def switch_mode(self) -> None:
        if self.conversation is not None:
            mode = self.conversation.mode
            self.conversation.set_mode(ALWAYS_LISTENING if mode == PUSH_TO_TALK else PUSH_TO_TALK)

    def submit_text(self, text: str) -> bool:
        """Answer a typed message aloud; False if the conversation is not running yet."""
        if self.conversation is None:
            return False
        self.conversation.submit_text(text)
        return True

    def clear_history(self) -> None:
        if self.conversation is not None:
            self.conversation.clear_history()


def engine_info(engines: Engines) -> EngineInfo:
    llm_note, tts_note = (*engines.notes, "", "")[:2]
    return EngineInfo(engines.llm.name, engines.tts.name, _why(llm_note, engines.llm.name),
                      _why(tts_note, engines.tts.name))


def _why(note: str, name: str) -> str:
    """The reason in a load note, without the engine name it repeats: "Piper (configured)" → "configured"."""
    why = note.removeprefix(name).strip()
    why = why.removeprefix(name.split()[0] if name else "").removeprefix(":").strip()
    return why[1:-1] if why.startswith("(") and why.endswith(")") else why


def startup_notices(engines: Engines) -> list[str]:
    """With backend = auto, say when Ollama did not answer and the embedded model stands in."""
    if engines.llm_fallback:
        return [f"{engines.llm_fallback}: using the embedded model ({engines.llm.name})"]
    return []
