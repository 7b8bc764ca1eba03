"""The TUI's session: `open_session()` on the app's event loop, reporting up by messages, controlled by calls down.

The session never touches a widget: it reports up by posting messages (`report`), and the app calls its methods
down. The heavy pipeline modules (~0.7 s of imports) are imported off the loop, so the first frame never waits.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from assistant.config import Config
from assistant.core.ports import EngineRole, Engines
from assistant.core.types import Mode
from assistant.errors import UserError
from assistant.frontends.tui.messages import ConversationUpdate, EngineProgress, SessionFailed, SessionReady

if TYPE_CHECKING:
    from assistant.core.conversation import Conversation
    from assistant.session import LoadEngines

log = logging.getLogger(__name__)


class Session:
    def __init__(self, config: Config, input_path: str | Path | None = None, *,
                 load_engines: LoadEngines | None = None, device_speaker: bool = True) -> None:
        self.config = config
        self.input_path = Path(input_path) if input_path is not None else None
        self._load_engines = load_engines  # None: the real ones
        self._device_speaker = device_speaker  # with a WAV input: also play through the speaker, if there is one
        self.conversation: Conversation | None = None

    async def run(self, report: Callable[[Message], object]) -> None:
        """Until cancelled: open the audio, load the engines, converse. A failure is reported, never raised."""
        try:
            await asyncio.to_thread(importlib.import_module, "assistant.session")  # the pipeline's modules too
            from assistant.session import AudioPlan, open_session

            plan = AudioPlan(input_wav=self.input_path, device_speaker=self._device_speaker)
            async with open_session(self.config, plan, load_engines=self._load_engines,
                                    on_engine_ready=lambda info: report(EngineProgress(info))) as session:
                conversation = session.conversation
                conversation.subscribe(lambda event: report(ConversationUpdate(event)))
                self.conversation = conversation
                report(SessionReady(session.engines.about, conversation.mode, startup_notices(session.engines)))
                try:
                    await conversation.run()
                finally:
                    self.conversation = None
        except Exception as error:
            if not isinstance(error, UserError):
                log.exception("the session failed")
            report(SessionFailed(error))

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
            self.conversation.set_mode(Mode.ALWAYS_LISTENING if mode == Mode.PUSH_TO_TALK else Mode.PUSH_TO_TALK)

    def submit_text(self, text: str) -> bool:
        """Answer a typed message aloud; False if the conversation is not running yet."""
        if self.conversation is None:
            return False
        self.conversation.submit_text(text)
        return True

    def clear_history(self) -> None:
        if self.conversation is not None:
            self.conversation.clear_history()


def startup_notices(engines: Engines) -> list[str]:
    """With `auto`, say when Ollama did not answer and the embedded model stands in, and when Piper speaks because
    Kokoro would be slow or stutter here."""
    notices = []
    llm, tts = engines.info(EngineRole.LLM), engines.info(EngineRole.TTS)
    if llm is not None and llm.fallback:
        notices.append(f"{llm.fallback}: using the embedded model ({llm.name})")
    if tts is not None and tts.fallback:
        notices.append(f"{tts.fallback}: using {tts.name}")
    return notices
