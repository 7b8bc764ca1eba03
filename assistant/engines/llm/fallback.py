"""backend = auto, mid-session: Ollama while it answers, the embedded model once it stops answering.

`FallbackLlm` is a `LanguageModel` in front of Ollama. When Ollama goes away (connection refused or dropped, or
no token within a timeout: `OllamaUnreachable`), that turn still fails, with one notice that says the embedded
model takes over; the embedded model answers every later turn. It is not loaded before it is needed: Ollama
usually keeps answering, and the load takes ~0.8 s of CPU and ~150 MB that startup does not need to pay.

It starts loading in the background once the user has heard the failed turn's spoken notice (or when the next
turn asks for it, if that notice was cut off). Not at the failure itself: llama.cpp builds its model with the
GIL held (0.5–0.9 s here, more on a busy machine), so a load begun then delayed the notice by as much. A user
takes longer than the load to ask the next question.

Other Ollama errors (an error line, an unreadable reply, an unknown model) are not outages: the turn fails and
Ollama answers the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

from assistant.core.ports import LanguageModel, LlmDeadlines, LlmError, Messages, ToolSchemas
from assistant.core.tooling import ToolCall
from assistant.engines.llm.ollama import OllamaUnreachable


class FallbackLlm:
    def __init__(self, primary: LanguageModel,
                 load_fallback: Callable[[], Coroutine[Any, Any, LanguageModel]]) -> None:
        self.primary = primary
        self._load_fallback = load_fallback
        self._outage = False  # Ollama stopped answering: the embedded model answers from now on
        self._loading: asyncio.Task[LanguageModel] | None = None

    @property
    def fallback(self) -> LanguageModel | None:
        """The embedded model, once loaded."""
        if self._loading and self._loading.done() and not self._loading.cancelled() and not self._loading.exception():
            return self._loading.result()
        return None

    @property
    def name(self) -> str:
        return (self.fallback or self.primary).name

    @property
    def deadlines(self) -> LlmDeadlines:
        return (self.fallback or self.primary).deadlines

    @property
    def calls_tools(self) -> bool:
        return (self.fallback or self.primary).calls_tools

    async def stream(self, messages: Messages, tools: ToolSchemas = ()) -> AsyncGenerator[str | ToolCall, None]:
        if self._outage:
            model = await self._fallback_model()
            async with contextlib.aclosing(model.stream(messages, tools if model.calls_tools else ())) as deltas:
                async for delta in deltas:
                    yield delta
            return
        try:
            async with contextlib.aclosing(self.primary.stream(messages, tools)) as deltas:
                async for delta in deltas:
                    yield delta
        except OllamaUnreachable as error:
            if self._outage:  # a stream begun before the switch: said already
                raise
            self._outage = True
            # The turn's notice: said once, since later turns no longer reach Ollama.
            raise LlmError(f"Ollama stopped answering ({error.cause}): using the embedded model from now on",
                           after_notice=self._start_loading) from error

    def _start_loading(self) -> asyncio.Task[LanguageModel]:
        if self._loading is None:
            self._loading = asyncio.get_running_loop().create_task(self._load_fallback(), name="load-fallback-llm")
        return self._loading

    async def _fallback_model(self) -> LanguageModel:
        try:
            return await asyncio.shield(self._start_loading())  # a cancelled turn must not cancel the load
        except Exception as error:  # e.g. a ModelError: its one line says what to do
            self._outage, self._loading = False, None  # the next turn tries Ollama again
            raise LlmError(f"the embedded model could not stand in for Ollama: {error}") from error

    async def close(self) -> None:
        await self.primary.close()
        if self._loading is not None:
            with contextlib.suppress(Exception):
                await (await self._loading).close()
