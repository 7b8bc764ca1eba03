"""A model served by Ollama over HTTP, through `ollama.AsyncClient`, with its own deadlines.

Closing the stream disconnects the request; Ollama stops generating when its client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import httpx
import ollama

from assistant.config import LlmConfig
from assistant.core.ports import LlmDeadlines, LlmError, Messages, ToolSchemas
from assistant.core.tooling import ToolCall
from assistant.engines.llm.prompt import with_system_prompt


class OllamaUnreachable(LlmError):
    """Ollama went away: refused or dropped the connection, or stopped sending within a timeout.

    `cause` is the short why ("connection refused", "no token for 10s"), for a fallback to say once.
    """

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


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
        self.calls_tools = True
        self.deadlines = LlmDeadlines(self._ollama.connect_timeout_s + config.first_token_timeout_s,
                                      config.token_timeout_s)
        connect = self._ollama.connect_timeout_s
        self._client = ollama.AsyncClient(
            host=self._ollama.host,
            timeout=httpx.Timeout(None, connect=connect, write=connect, pool=connect),
            event_hooks={"request": [_trace_request]},
            trust_env=False,  # talk to the configured host itself, never to a proxy named in the environment
            follow_redirects=False,  # nor to wherever a redirect points: a 3xx is an error naming the host
        )

    async def probe(self) -> str | None:
        """None if Ollama answers (GET /api/tags) within the connect timeout and has the model, else why not."""
        host, model = self._ollama.host, self._ollama.model
        try:
            names = set(await self.pulled())
        except LlmError as error:
            return str(error)
        if model in names or f"{model}:latest" in names:
            return None
        return f"Ollama at {host} has no model '{model}' (`ollama pull {model}`)"

    async def pulled(self) -> list[str]:
        """The models Ollama has (GET /api/tags, within the connect timeout); LlmError saying why not."""
        host = self._ollama.host
        try:
            async with asyncio.timeout(self._ollama.connect_timeout_s):
                listing = await self._client.list()
        except TimeoutError:
            raise LlmError(f"Ollama did not answer at {host} within {self._ollama.connect_timeout_s:g}s") from None
        except ollama.ResponseError as error:
            raise self._error(error) from None
        except (ConnectionError, httpx.HTTPError, ValueError):
            raise LlmError(f"Ollama is not answering at {host}") from None
        return sorted(entry.model for entry in listing.models if entry.model)

    async def preload(self) -> None:
        """Have Ollama load the model now (a chat with no messages), so the first turn does not wait for it. A big
        model's first load from disk takes long: it has its own deadline, not the first token's."""
        limit = self._ollama.connect_timeout_s + self._ollama.load_timeout_s
        try:
            async with asyncio.timeout(limit):
                await self._client.chat(model=self._ollama.model, messages=[], stream=False)
        except TimeoutError:
            raise LlmError(f"Ollama did not load model '{self._ollama.model}' within {limit:g}s "
                           "(raise [llm.ollama] load_timeout_s)") from None
        except (ConnectionError, httpx.HTTPError, ollama.ResponseError, ValueError) as error:
            raise self._error(error) from error

    async def stream(self, messages: Messages, tools: ToolSchemas = ()) -> AsyncGenerator[str | ToolCall, None]:
        parts = await self._client.chat(
            model=self._ollama.model,
            messages=with_system_prompt(messages, self._config.system_prompt),
            tools=list(tools) or None,
            stream=True,
            options={"num_predict": self._config.max_tokens, "temperature": self._config.temperature},
        )
        try:
            part = await self._first_part(parts)
            while part is not None:
                if part.message and part.message.content:
                    yield part.message.content
                for call in (part.message.tool_calls or ()) if part.message else ():
                    yield ToolCall(call.function.name, call.function.arguments)
                if part.done:
                    return
                part = await self._next_part(parts)
        finally:
            # Closes the HTTP response: Ollama sees the disconnect and stops generating. (The client's stream is an
            # async generator, though it is typed as an iterator.)
            await parts.aclose()  # type: ignore[attr-defined]

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
            if 300 <= error.status_code < 400:
                return LlmError(f"Ollama at {host} answered with a redirect (HTTP {error.status_code}), not followed: "
                                "set [llm.ollama] host to the server itself")
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
        return LlmError(f"Ollama sent a reply this client cannot read: {_one_line(error)}")


def _one_line(error: BaseException) -> str:
    """A client error in one line: for the client's own (pydantic) validation, the first problem and where it is
    (e.g. a tool call whose arguments are not an object)."""
    problems = getattr(error, "errors", None)
    if callable(problems):
        with contextlib.suppress(Exception):
            first = problems()[0]
            return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return " ".join(str(error).split())
