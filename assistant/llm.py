"""The language model: Ollama over HTTP, or llama.cpp in-process, behind one small Protocol.

`LanguageModel.stream(messages)` yields text deltas. Closing the stream (cancelling the task that reads it,
`aclose()`, or leaving `async with contextlib.aclosing(...)`) stops the generation itself, not just the reading:
the Ollama request is disconnected (the server stops generating when its client goes away), and llama.cpp
stops at its next token, or within one prompt batch while it is still reading the prompt (its callback
returns "stop").

Use `contextlib.aclosing(model.stream(...))` when you may `break` out of the loop: a plain `break` leaves the
generator suspended until the garbage collector closes it.

`load_llm(config)` picks and loads the backend (backend = auto: Ollama if it answers and has the model, else
the embedded model; and if Ollama stops answering mid-session, the embedded model from then on: llm_fallback.py)
and says why in one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import ollama

from assistant.config import Config, EmbeddedLlmConfig, LlmConfig
from assistant.engine_thread import EngineThread, StopToken
from assistant.errors import UserError

Messages = list[dict[str, str]]


class LlmError(UserError):
    """The language model failed; `str()` is one line that says what to do."""


class OllamaUnreachable(LlmError):
    """Ollama went away: refused or dropped the connection, or stopped sending within a timeout.

    `cause` is the short why ("connection refused", "no token for 10s"), for a fallback to say once.
    """

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


@runtime_checkable
class LanguageModel(Protocol):
    name: str

    def stream(self, messages: Messages) -> AsyncIterator[str]:
        """Text deltas of the reply to `messages` (the config's system prompt is added if the first message
        is not a system message). Raises `LlmError` from the iterator on failure."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class LlmChoice:
    """What `load_llm` picked, and a one-line reason fit for a status line."""

    model: LanguageModel
    reason: str
    fallback: str | None = None  # with backend = auto: why Ollama was not used, if it was not


async def load_llm(config: Config) -> LlmChoice:
    """Load the configured backend, ready to answer (model loaded and warmed up).

    backend = "ollama": Ollama or an `LlmError` saying how to fix it. backend = "embedded": llama.cpp in-process.
    backend = "auto": Ollama if it answers within the connect timeout and has the model, else the embedded model.
    """
    llm = config.llm
    if llm.backend == "embedded":
        model = await EmbeddedLlm.load(config)
        return LlmChoice(model, f"{model.name} (backend = embedded)")

    ollama_llm = await asyncio.to_thread(OllamaLlm, llm)  # building the httpx client reads CA files: ~25 ms
    try:
        if llm.backend == "ollama":
            await ollama_llm.preload()
            return LlmChoice(ollama_llm, f"{ollama_llm.name} at {llm.ollama.host} (backend = ollama)")
        why_not = await ollama_llm.probe()
        if why_not is None:
            try:
                await ollama_llm.preload()
            except LlmError as error:
                why_not = str(error)
            else:
                from assistant.llm_fallback import FallbackLlm  # it builds on this module

                # Should Ollama stop answering mid-session, the embedded model takes over (loaded only then).
                return LlmChoice(FallbackLlm(ollama_llm, lambda: EmbeddedLlm.load(config)),
                                 f"{ollama_llm.name} at {llm.ollama.host} (auto: Ollama answered)")
    except BaseException:
        await ollama_llm.close()
        raise
    await ollama_llm.close()
    model = await EmbeddedLlm.load(config)
    return LlmChoice(model, f"{model.name} (auto: {why_not})", fallback=why_not)


def _with_system_prompt(messages: Messages, system_prompt: str) -> Messages:
    if system_prompt and not (messages and messages[0].get("role") == "system"):
        return [{"role": "system", "content": system_prompt}, *messages]
    return list(messages)


# --- Ollama ---------------------------------------------------------------------------------------------------

# What the ollama client raises while reading a reply. AttributeError and TypeError come from a line that is JSON
# but not an object (it calls `.get()` on it, then builds a model from it): a bad reply, not a bug of ours.
_CLIENT_ERRORS = (ConnectionError, httpx.HTTPError, ollama.ResponseError, ValueError, AttributeError, TypeError)

# Set while a request's first chunk is awaited: called once the request has been fully sent, which ends the
# connect phase and starts the first-token clock (httpcore reports it through the request's "trace" extension).
_on_request_sent: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "_on_request_sent", default=None)


async def _trace_request(request: httpx.Request) -> None:
    callback = _on_request_sent.get()
    if callback is None:
        return

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            callback()

    request.extensions["trace"] = trace


class OllamaLlm:
    """A model served by Ollama, through `ollama.AsyncClient` (one client, closed by `close()`).

    Timeouts, per request: `connect_timeout_s` until the request is sent, `first_token_timeout_s` from then to the
    first chunk (covers Ollama loading the model), `token_timeout_s` between chunks.
    Construction builds an httpx client (~25 ms of file reads): off the event loop, call it via a thread.
    """

    def __init__(self, config: LlmConfig) -> None:
        self._config = config
        self._ollama = config.ollama
        self.name = f"ollama {self._ollama.model}"
        connect = self._ollama.connect_timeout_s
        self._client = ollama.AsyncClient(
            host=self._ollama.host,
            timeout=httpx.Timeout(None, connect=connect, write=connect, pool=connect),
            event_hooks={"request": [_trace_request]},
            trust_env=False,  # talk to the configured host itself, never to a proxy named in the environment
        )

    async def probe(self) -> str | None:
        """None if Ollama answers (GET /api/tags) within the connect timeout and has the model, else why not."""
        host, model = self._ollama.host, self._ollama.model
        try:
            async with asyncio.timeout(self._ollama.connect_timeout_s):
                listing = await self._client.list()
        except TimeoutError:
            return f"Ollama did not answer at {host} within {self._ollama.connect_timeout_s:g}s"
        except (ConnectionError, httpx.HTTPError, ollama.ResponseError, ValueError):
            return f"Ollama is not answering at {host}"
        names = {entry.model for entry in listing.models if entry.model}
        if model in names or f"{model}:latest" in names:
            return None
        return f"Ollama at {host} has no model '{model}' (`ollama pull {model}`)"

    async def preload(self) -> None:
        """Have Ollama load the model now (a chat with no messages), so the first turn does not wait for it."""
        limit = self._ollama.connect_timeout_s + self._config.first_token_timeout_s
        try:
            async with asyncio.timeout(limit):
                await self._client.chat(model=self._ollama.model, messages=[], stream=False)
        except TimeoutError:
            raise LlmError(f"Ollama did not load model '{self._ollama.model}' within {limit:g}s "
                           "(raise [llm] first_token_timeout_s)") from None
        except (ConnectionError, httpx.HTTPError, ollama.ResponseError, ValueError) as error:
            raise self._error(error) from error

    async def stream(self, messages: Messages) -> AsyncIterator[str]:
        parts = await self._client.chat(
            model=self._ollama.model,
            messages=_with_system_prompt(messages, self._config.system_prompt),
            stream=True,
            options={"num_predict": self._config.max_tokens, "temperature": self._config.temperature},
        )
        try:
            part = await self._first_part(parts)
            while part is not None:
                if part.message and part.message.content:
                    yield part.message.content
                if part.done:
                    return
                part = await self._next_part(parts)
        finally:
            # Closes the HTTP response: Ollama sees the disconnect and stops generating.
            await parts.aclose()

    async def close(self) -> None:
        await self._client.close()

    async def _first_part(self, parts: AsyncIterator[ollama.ChatResponse]) -> ollama.ChatResponse | None:
        loop = asyncio.get_running_loop()
        connect, first = self._ollama.connect_timeout_s, self._config.first_token_timeout_s
        sent = False
        try:
            # Until the request is sent the limit is connect + first (a fallback, should the trace never come);
            # once it is sent, the first token must come within `first`.
            async with asyncio.timeout(connect + first) as scope:

                def on_sent() -> None:
                    nonlocal sent
                    sent = True
                    with contextlib.suppress(RuntimeError):  # already expiring: the timeout wins
                        scope.reschedule(loop.time() + first)

                reset = _on_request_sent.set(on_sent)
                try:
                    return await anext(parts, None)
                finally:
                    _on_request_sent.reset(reset)
        except TimeoutError:
            if sent:
                raise OllamaUnreachable(f"Ollama sent no first token within {first:g}s (model '{self._ollama.model}' "
                                        "may still be loading: raise [llm] first_token_timeout_s)",
                                        f"no first token within {first:g}s") from None
            raise OllamaUnreachable(f"Ollama at {self._ollama.host} did not take the request within {connect:g}s: "
                                    "is it overloaded? (or set [llm] backend = \"embedded\")",
                                    f"request not taken within {connect:g}s") from None
        except _CLIENT_ERRORS as error:
            raise self._error(error) from error

    async def _next_part(self, parts: AsyncIterator[ollama.ChatResponse]) -> ollama.ChatResponse | None:
        limit = self._config.token_timeout_s
        try:
            async with asyncio.timeout(limit):
                return await anext(parts, None)
        except TimeoutError:
            raise OllamaUnreachable(f"Ollama stalled: no token for {limit:g}s (raise [llm] token_timeout_s)",
                                    f"no token for {limit:g}s") from None
        except _CLIENT_ERRORS as error:
            raise self._error(error) from error

    def _error(self, error: BaseException) -> LlmError:
        host, model = self._ollama.host, self._ollama.model
        not_running = (f"Ollama is not answering at {host}: start it with `ollama serve` "
                       "(or set [llm] backend = \"embedded\")")
        if isinstance(error, ollama.ResponseError):
            if error.status_code == 404 and "model" in str(error.error).lower():
                return LlmError(f"Ollama has no model '{model}': run `ollama pull {model}`")
            if error.status_code == -1:  # an {"error": ...} line in the stream
                return LlmError(f"Ollama failed mid-reply: {error.error}")
            return LlmError(f"Ollama at {host} answered HTTP {error.status_code}: {error.error}")
        if isinstance(error, ConnectionError | httpx.ConnectError | httpx.ConnectTimeout):
            return OllamaUnreachable(not_running, "connection refused")
        if isinstance(error, httpx.TimeoutException):
            return OllamaUnreachable(f"Ollama at {host} did not take the request within "
                                     f"{self._ollama.connect_timeout_s:g}s: is it overloaded?", "request timed out")
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError):
            return OllamaUnreachable(f"Ollama at {host} closed the connection mid-reply "
                                     f"({error or type(error).__name__})", "connection dropped mid-reply")
        if isinstance(error, httpx.HTTPError):
            return LlmError(f"Ollama request to {host} failed: {error or type(error).__name__}")
        return LlmError(f"Ollama sent a reply this client cannot read: {error}")


# --- embedded llama.cpp ---------------------------------------------------------------------------------------


def resolve_gguf(config: Config) -> Path:
    """The GGUF file for `[llm.embedded] model`: a path to a .gguf file, or a model name from `models.py`.

    Blocking (the model store may verify checksums): call it from an engine thread.
    """
    value = config.llm.embedded.model
    path = Path(value).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise LlmError(f"[llm.embedded] model: no such file {path}")
        return path
    from assistant.models import require  # written in parallel; imported when first needed

    folder = require(value, config.models_dir)
    found = sorted(folder.glob("*.gguf"))
    if len(found) != 1:
        raise LlmError(f"[llm.embedded] model: expected one .gguf file in {folder}, found {len(found)}")
    return found[0]


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
        self.last_stats: GenerationStats | None = None
        self._active: set[StopToken] = set()

    @classmethod
    async def load(cls, config: Config) -> EmbeddedLlm:
        engine = EngineThread("llm")
        try:
            gguf = await engine.run(resolve_gguf, config)
            server, socket_dir = await engine.run(_start_server, gguf, config.llm.embedded)
        except BaseException:
            engine.close()
            raise
        model = cls(server, gguf, config.llm, engine, socket_dir)
        try:
            await model.warm_up()
        except BaseException:
            await model.close()
            raise
        return model

    async def warm_up(self) -> None:
        """One 1-token request: the first real turn then runs at full speed (and the system prompt is cached)."""
        request = json.dumps({"messages": _with_system_prompt([{"role": "user", "content": "Hi"}],
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

    async def stream(self, messages: Messages) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        token = StopToken()
        stats = self.last_stats = GenerationStats()
        request = json.dumps({
            "messages": _with_system_prompt(messages, self._config.system_prompt),
            "stream": True, "max_tokens": self._config.max_tokens, "temperature": self._config.temperature,
            "cache_prompt": True,
            "return_progress": True,  # a callback per prompt batch too: a stop also lands while the prompt is read
        })

        def on_chunk(chunk: str) -> bool:  # engine thread; returning True stops llama.cpp at this token
            if not token.stopped and (item := _parse_chunk(chunk, stats)) is not None:
                try:
                    loop.call_soon_threadsafe(queue.put_nowait, item)
                except RuntimeError:  # the event loop is gone: nobody is listening any more
                    token.stop()
            if token.stopped:
                stats.stopped = True
                return True
            return False

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
        try:
            while (item := await queue.get()) is not _DONE:
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

    async def close(self) -> None:
        """Stop any generation, then llama.cpp's threads, and free the model (on the engine thread)."""
        for token in self._active:
            token.stop()
        if self._server is not None:
            holder = [self._server]
            self._server = None
            await self.engine.run(holder.clear)  # the last reference: its destructor joins llama.cpp's threads
        self.engine.close()
        shutil.rmtree(self._socket_dir, ignore_errors=True)


def _start_server(gguf: Path, config: EmbeddedLlmConfig) -> tuple[Any, str]:
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


__all__ = [
    "EmbeddedLlm",
    "GenerationStats",
    "LanguageModel",
    "LlmChoice",
    "LlmError",
    "OllamaLlm",
    "OllamaUnreachable",
    "load_llm",
    "resolve_gguf",
]
