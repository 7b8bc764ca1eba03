"""llama.cpp in-process (xllamacpp) on its own engine thread.

Closing the stream stops llama.cpp at its next token, or within one prompt batch while it is still reading the
prompt (its callback returns "stop").
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.config import Config, EmbeddedLlmConfig, LlmConfig
from assistant.core.ports import LlmDeadlines, LlmError, Messages, ToolSchemas
from assistant.core.thread_priority import Role
from assistant.core.tooling import ToolCall
from assistant.core.worker_thread import EngineThread
from assistant.engines.llm.prompt import with_system_prompt
from assistant.engines.speech_first import SPEECH_FIRST
from assistant.engines.stop_token import StopToken

log = logging.getLogger(__name__)


def resolve_gguf(config: Config) -> Path:
    """The GGUF file for `[llm.embedded] model`: a path to a .gguf file, or a model name from the model registry.

    Blocking (the model store may verify checksums): call it from an engine thread.
    """
    value = config.llm.embedded.model
    path = Path(value).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise LlmError(f"[llm.embedded] model: no such file {path}")
        return path
    return registry_gguf(value, config.models_dir)


def registry_gguf(name: str, models_dir: Path) -> Path:
    """The registry model's GGUF file, verified (blocking). Named by the registry, not found by a glob: a folder may
    still hold the file an older version used."""
    from assistant.engines.models import get, require  # written in parallel; imported when first needed

    folder = require(name, models_dir)
    found = [file.name for file in get(name).files if file.name.endswith(".gguf")]
    if len(found) != 1:
        raise LlmError(f"[llm.embedded] model: {name} is not a GGUF model (it has {len(found)} .gguf files)")
    return folder / found[0]


@dataclass
class GenerationStats:
    """One embedded generation, as the engine saw it (filled from its thread; read it once the engine is idle)."""

    deltas: int = 0  # text deltas the engine produced, read or not
    stopped: bool = False  # stopped early because the stream was closed
    prompt_tokens: int | None = None  # the rest comes from llama.cpp's timings at a natural end
    prompt_ms: float | None = None
    tokens: int | None = None
    tokens_per_s: float | None = None


_DONE = object()
PROMPT_BATCH_TOKENS = 16


class EmbeddedLlm:
    """llama.cpp in-process (xllamacpp), run on its own engine thread; `await EmbeddedLlm.load(config)`.

    xllamacpp's Server always opens an HTTP listener besides the in-process calls; it is put on a Unix socket in
    a private (0700) temporary folder, so no TCP port is opened.
    """

    def __init__(self, server: Any, gguf: Path, config: LlmConfig, engine: EngineThread, socket_dir: str) -> None:
        self._server = server
        self._config = config
        self._socket_dir = socket_dir
        self.engine = engine
        self.gguf = gguf
        self.name = f"embedded {gguf.stem}"
        self.calls_tools = False  # a 135M model calls tools too unreliably: the intent layer serves those requests
        self.deadlines = LlmDeadlines(config.first_token_timeout_s, config.token_timeout_s)
        self.last_stats: GenerationStats | None = None
        self._active: set[StopToken] = set()
        self._yield_to_speech = config.embedded.yield_to_speech
        self._warming: asyncio.Future[None] | None = None

    @classmethod
    async def load(cls, config: Config) -> EmbeddedLlm:
        engine = EngineThread("llm", Role.MODEL)
        try:
            gguf = await engine.run(resolve_gguf, config)
            server, socket_dir = await engine.run(start_server, gguf, config.llm.embedded)
        except BaseException:
            engine.close()
            raise
        model = cls(server, gguf, config.llm, engine, socket_dir)
        # Not awaited: llama.cpp releases the GIL while it reads, so the warm-up overlaps the other engines' loading
        # and the first moments of listening; a first question waits behind it on the engine thread.
        model._warming = asyncio.ensure_future(model.warm_up())
        model._warming.add_done_callback(_log_failed_warm_up)
        return model

    async def warm_up(self) -> None:
        """One 1-token request: the first real turn then runs at full speed (and the system prompt is cached)."""
        request = json.dumps({"messages": with_system_prompt([{"role": "user", "content": "Hi"}],
                                                              self._config.system_prompt),
                              "stream": True, "max_tokens": 1, "temperature": 0.0, "cache_prompt": True})
        errors: list[str] = []

        def on_chunk(chunk: str) -> bool:
            with contextlib.suppress(ValueError):
                if isinstance(error := json.loads(chunk).get("error"), dict | str):
                    errors.append(_error_text(error))
            return False

        await self.engine.run(self._server.handle_chat_completions, request, on_chunk)
        if errors:
            raise LlmError(f"llama.cpp failed to warm up {self.gguf.name}: {errors[0]}")

    async def stream(self, messages: Messages, tools: ToolSchemas = ()) -> AsyncGenerator[str | ToolCall, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        token = StopToken()
        stats = self.last_stats = GenerationStats()
        request = json.dumps({
            "messages": with_system_prompt(messages, self._config.system_prompt),
            "stream": True, "max_tokens": self._config.max_tokens, "temperature": self._config.temperature,
            "cache_prompt": True,
            "return_progress": True,  # a callback per prompt batch too: a stop also lands while the prompt is read
        })

        yield_to_speech = self._yield_to_speech

        def on_chunk(chunk: str) -> bool:  # engine thread; returning True stops llama.cpp at this token
            if yield_to_speech:
                SPEECH_FIRST.wait_for_quiet()  # llama.cpp waits here before its next token
            if not token.stopped and (item := _parse_chunk(chunk, stats)) is not None:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:  # the event loop is gone: nobody is listening any more
                    token.stop()
            if token.stopped:
                stats.stopped = True
                return True
            return False

        await self._warmed()
        server = self._server
        if server is None:
            raise LlmError(f"{self.name} is closed")

        def generate() -> None:
            if not token.stopped:  # closed before the engine got to it
                server.handle_chat_completions(request, on_chunk)

        def finished(job: asyncio.Future[None]) -> None:
            queue.put_nowait(_DONE if job.cancelled() or job.exception() is None else job.exception())

        job = asyncio.ensure_future(self.engine.run(generate))
        job.add_done_callback(finished)
        self._active.add(token)
        limit = self.deadlines.first_token_s
        try:
            while (item := await self._next(queue, limit)) is not _DONE:
                limit = self.deadlines.between_tokens_s
                if isinstance(item, LlmError):
                    raise item
                if isinstance(item, BaseException):
                    raise LlmError(f"llama.cpp failed: {item}") from item
                assert isinstance(item, str)
                yield item
        finally:
            # Stops llama.cpp at its next token or prompt batch; the engine thread is free again right after.
            # Not awaited, so closing never waits on the engine (the next request queues behind it anyway).
            token.stop()
            self._active.discard(token)

    async def _warmed(self) -> None:
        """Wait for the background warm-up (a question would queue behind it anyway), so that the first-token clock
        counts this question's own work; a warm-up slower than that limit is a stall of its own."""
        if (warming := self._warming) is not None and not warming.done():
            await asyncio.wait({warming}, timeout=self.deadlines.first_token_s)  # neither raises nor cancels it
            if not warming.done():
                raise LlmError(f"{self.name} is still warming up after {self.deadlines.first_token_s:g}s (the machine "
                               "may be overloaded; raise [llm] first_token_timeout_s)")

    async def _next(self, queue: asyncio.Queue[object], limit: float) -> object:
        try:
            async with asyncio.timeout(limit):
                return await queue.get()
        except TimeoutError:
            raise LlmError(f"{self.name} sent no token for {limit:g}s (the machine may be overloaded; "
                           "raise [llm] first_token_timeout_s / token_timeout_s)") from None

    async def close(self) -> None:
        """Stop any generation, then llama.cpp's threads, and free the model (on the engine thread)."""
        for token in self._active:
            token.stop()
        if self._warming is not None:
            self._warming.cancel()
        if self._server is not None:
            holder = [self._server]
            self._server = None
            await self.engine.run(holder.clear)  # the last reference: its destructor joins llama.cpp's threads
        self.engine.close()
        shutil.rmtree(self._socket_dir, ignore_errors=True)


def _log_failed_warm_up(warming: asyncio.Future[None]) -> None:
    if not warming.cancelled() and (error := warming.exception()) is not None:
        log.warning("%s", error)  # the first question meets the same failure, and says so


def start_server(gguf: Path, config: EmbeddedLlmConfig) -> tuple[Any, str]:
    # OpenMP (xllamacpp links libgomp) reads this when it is first loaded: sleep, do not spin, between tokens.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import xllamacpp  # heavy: imported on first use, off the event loop

    params = xllamacpp.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx = config.context_tokens
    params.cpuparams.n_threads = config.threads
    params.cpuparams_batch.n_threads = config.threads
    params.n_parallel = 1
    # The prompt is read in batches of this many tokens, with a progress callback after each, so closing the
    # stream stops prompt reading within one batch (~0.13 s at 1 thread) too. No slower than big batches here.
    params.n_batch = params.n_ubatch = PROMPT_BATCH_TOKENS
    params.n_threads_http = 1
    params.verbosity = -1  # silences llama.cpp's logs
    # Not needed on a CPU, and each holds the GIL while it runs (the Server is made with it held): fitting the
    # context to a GPU's memory loads the model once more (~0.2 s); the warm-up is the caller's own first request.
    params.warmup = False
    if hasattr(params, "fit_params"):  # llama.cpp's since late 2025
        params.fit_params = False
    # No repacking of the weights into llama.cpp's interleaved CPU layouts at load: it costs ~130 ms per context
    # (the words cue makes a second one) and nothing here: Q8_0's prompt reading is as fast without it.
    params.no_extra_bufts = True
    socket_dir = tempfile.mkdtemp(prefix="va-llm-")  # private (0700): the listener is ours alone
    if len(socket_dir) > 90:  # Unix socket paths are limited to ~108 bytes
        shutil.rmtree(socket_dir, ignore_errors=True)
        socket_dir = tempfile.mkdtemp(prefix="va-llm-", dir="/tmp")
    params.hostnames = [os.path.join(socket_dir, "llama.sock")]
    try:
        server = xllamacpp.Server(params)
    except (RuntimeError, ValueError) as error:
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise LlmError(f"llama.cpp could not load {gguf} ({error})") from error
    return server, socket_dir


def _parse_chunk(chunk: str, stats: GenerationStats) -> str | LlmError | None:
    """One OpenAI-style chunk from llama.cpp: its text delta, an error, or None (role, timings, end)."""
    try:
        data = json.loads(chunk)
    except ValueError:
        return LlmError(f"llama.cpp sent an unreadable chunk: {chunk[:80]!r}")
    if "error" in data:
        error = data["error"]
        if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
            return LlmError(f"the conversation ({error.get('n_prompt_tokens')} tokens) does not fit the embedded "
                            f"model's context ({error.get('n_ctx')} tokens): raise [llm.embedded] context_tokens "
                            "or start a new conversation")
        return LlmError(f"llama.cpp failed: {_error_text(error)}")
    _read_timings(data.get("timings"), stats)
    for choice in data.get("choices") or ():
        if content := (choice.get("delta") or {}).get("content"):
            stats.deltas += 1
            return str(content)
    return None


def _error_text(error: object) -> str:
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)


def _read_timings(timings: object, stats: GenerationStats) -> None:
    if isinstance(timings, dict):
        stats.prompt_tokens = timings.get("prompt_n")
        stats.prompt_ms = timings.get("prompt_ms")
        stats.tokens = timings.get("predicted_n")
        stats.tokens_per_s = timings.get("predicted_per_second")
