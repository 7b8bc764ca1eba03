"""A loopback stand-in for Ollama's HTTP API, for tests that drive the real `ollama` client against it.

No Ollama server binary is available here, so this speaks its protocol: `GET /api/tags`, `POST /api/chat`
streaming NDJSON (one JSON object per line, never a blank line; tool calls in a line of their own) in HTTP/1.1
chunked encoding, a final
`"done": true` line with durations in nanoseconds, 404 `{"error": ...}` for an unknown model, and the faults a
client must survive: an `{"error": ...}` line mid-stream, a hang before the first token (headers go out with
the first line, as Ollama's do, so a hang there sends nothing at all), a hang mid-stream, slow tokens, a line
that is not valid JSON, and a connection reset (TCP RST) mid-stream. `stop()` and `start()` again on the same
port: Ollama going away mid-session and coming back. `pull(model)` adds a model, as `ollama pull` would.

Each request to /api/chat takes the next `Script` queued with `script()` (else the default one). The server
records every chat request body and notices when a client goes away (`disconnected`), so a test can prove that
a cancelled stream reached the server.

    with OllamaStandIn(models=["llama3.2:1b"]) as server:
        server.script(Script(tokens=["Hi", "!"], hang_after=1))
        client = ollama.AsyncClient(host=server.host)
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POLL_S = 0.01


@dataclass(frozen=True)
class Script:
    """How the stand-in answers one /api/chat request."""

    tokens: Sequence[str] = ("Hello", ",", " world", ".")
    first_token_delay_s: float = 0.0  # before the first line (the model "loading"); nothing is sent meanwhile
    token_delay_s: float = 0.0  # between lines
    error_after: int | None = None  # after this many tokens, send {"error": error} and end the response
    error: str = "an error was encountered while running the model"
    hang_after: int | None = None  # after this many tokens, send nothing more until the client leaves
    garbage_after: int | None = None  # after this many tokens, send the `garbage` line (not an Ollama reply)
    garbage: bytes = b'{"model": "llama3.2:1b", "message": {"role": "assi'
    reset_after: int | None = None  # after this many tokens, reset the connection (RST, not a clean close)
    done_reason: str = "stop"
    # sent after the tokens, in one line, as Ollama streams them: {"function": {"name": ..., "arguments": {...}}}
    tool_calls: Sequence[Any] = ()


@dataclass
class _State:
    models: list[str]
    load_delay_s: float = 0.0  # how long a (pre)load request takes: a big model read from disk
    default: Script = field(default_factory=Script)
    scripts: deque[Script] = field(default_factory=deque)
    by_question: list[Script] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lines_sent: int = 0
    disconnects: int = 0
    disconnected: threading.Event = field(default_factory=threading.Event)
    closing: threading.Event = field(default_factory=threading.Event)
    connections: set[socket.socket] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class OllamaStandIn:
    """Bound (listening) from construction; serving from `start()`. Stopped, its port refuses connections."""

    def __init__(self, models: Sequence[str] = ("llama3.2:1b",)) -> None:
        self._state = _State(models=list(models))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = self._bind(0)

    def _bind(self, port: int) -> int:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)  # allows address reuse
        self._server.daemon_threads = True
        self._server.state = self._state  # type: ignore[attr-defined]
        return self._server.server_address[1]

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> OllamaStandIn:
        """Serve; after a `stop()`, listen again on the same port first."""
        if self._server is None:
            self._bind(self._port)
        assert self._server is not None and self._thread is None
        self._state.closing.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="ollama-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (connections to it are then refused), ending open connections."""
        if self._server is None:
            return
        self._state.closing.set()
        if self._thread is not None:  # shutdown() waits for serve_forever, so only once it has run
            self._server.shutdown()
        self._server.server_close()
        with self._state.lock:
            connections = list(self._state.connections)
        for conn in connections:  # end keep-alive connections and any handler still waiting on one
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._server = self._thread = None

    def __enter__(self) -> OllamaStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def script(self, *scripts: Script) -> None:
        """Queue answers for the next /api/chat requests, in order."""
        with self._state.lock:
            self._state.scripts.extend(scripts)

    def script_by_question(self, *scripts: Script) -> None:
        """Answer by the request instead, as a conversation needs (an early answer dropped and asked again must
        get the same reply): the k-th script answers a request whose conversation holds k user messages."""
        with self._state.lock:
            self._state.by_question = list(scripts)

    def load_takes(self, seconds: float) -> None:
        """Make each (pre)load request take this long, as a big model's first load does."""
        self._state.load_delay_s = seconds

    def pull(self, model: str) -> None:
        """Make `model` available, as `ollama pull` would."""
        with self._state.lock:
            self._state.models.append(model)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the /api/chat requests received so far."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def lines_sent(self) -> int:
        return self._state.lines_sent

    @property
    def disconnected(self) -> threading.Event:
        """Set when a client went away before its response was complete."""
        return self._state.disconnected

    @property
    def disconnects(self) -> int:
        return self._state.disconnects


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _ClientLeft(Exception):
    pass


class _Stopping(Exception):
    pass


class _Reset(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked responses, like Ollama
    server_version = "ollama-standin"
    state: _State

    def setup(self) -> None:
        super().setup()
        self.state = self.server.state  # type: ignore[attr-defined]
        with self.state.lock:
            self.state.connections.add(self.connection)

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # a client dropping a kept-alive connection
            super().handle()

    def finish(self) -> None:
        with self.state.lock:
            self.state.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- routes ---

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            models = [{"name": m, "model": m, "modified_at": _now(), "size": 1_300_000_000,
                       "digest": "0" * 64, "details": {"format": "gguf", "family": "llama",
                                                       "parameter_size": "1.2B", "quantization_level": "Q8_0"}}
                      for m in self.state.models]
            self._send_json(200, {"models": models})
        elif self.path == "/":
            self._send_bytes(200, b"Ollama is running", "text/plain; charset=utf-8")
        else:
            self._send_bytes(404, b"404 page not found", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/api/chat":
            self._send_bytes(404, b"404 page not found", "text/plain")
            return
        model = body.get("model", "")
        if model not in self.state.models:
            self._send_json(404, {"error": f"model '{model}' not found"})
            return
        if not body.get("messages"):  # Ollama's way to (pre)load a model
            with contextlib.suppress(_ClientLeft, _Stopping):
                self._wait(self.state.load_delay_s)
                self._send_json(200, self._final(model, "load", 0))
            return
        with self.state.lock:
            self.state.requests.append(body)
            asked = sum(message.get("role") == "user" for message in body["messages"])
            if 0 < asked <= len(self.state.by_question):
                script = self.state.by_question[asked - 1]
            else:
                script = self.state.scripts.popleft() if self.state.scripts else self.state.default
        try:
            if body.get("stream", True):
                self._stream(model, script)
            else:
                self._whole(model, script)
        except _ClientLeft:
            with self.state.lock:
                self.state.disconnects += 1
            self.state.disconnected.set()
            self.close_connection = True
        except (_Stopping, _Reset):
            self.close_connection = True

    # --- answers ---

    def _stream(self, model: str, script: Script) -> None:
        self._headers_sent = False
        self._wait(script.first_token_delay_s)
        for index in range(len(script.tokens) + 1):
            if script.hang_after == index:
                self._wait(None)
            if script.error_after == index:
                self._line({"error": script.error})
                self._end_chunks()
                return
            if script.garbage_after == index:
                self._raw_line(script.garbage)
                self._end_chunks()
                return
            if script.reset_after == index:
                self._reset()
            if index == len(script.tokens):
                break
            if index > 0:
                self._wait(script.token_delay_s)
            self._line({"model": model, "created_at": _now(),
                        "message": {"role": "assistant", "content": script.tokens[index]}, "done": False})
        if script.tool_calls:
            self._line({"model": model, "created_at": _now(), "done": False,
                        "message": {"role": "assistant", "content": "", "tool_calls": list(script.tool_calls)}})
        self._line(self._final(model, script.done_reason, len(script.tokens)))
        self._end_chunks()

    def _whole(self, model: str, script: Script) -> None:
        self._wait(script.first_token_delay_s)
        if script.hang_after is not None:
            self._wait(None)
        reply = self._final(model, script.done_reason, len(script.tokens))
        reply["message"] = {"role": "assistant", "content": "".join(script.tokens)}
        self._send_json(200, reply)

    @staticmethod
    def _final(model: str, reason: str, count: int) -> dict[str, Any]:
        return {"model": model, "created_at": _now(), "message": {"role": "assistant", "content": ""},
                "done_reason": reason, "done": True, "total_duration": 412_000_000 + count * 20_000_000,
                "load_duration": 12_000_000, "prompt_eval_count": 26, "prompt_eval_duration": 130_000_000,
                "eval_count": count, "eval_duration": count * 20_000_000}

    # --- wire ---

    def _line(self, obj: dict[str, Any]) -> None:
        self._raw_line(json.dumps(obj).encode())  # one object per line; never a blank line

    def _raw_line(self, line: bytes) -> None:
        if not self._headers_sent:  # like Ollama's: the headers go out with the first line
            self._headers_sent = True
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Date", self.date_time_string())
            self.end_headers()
        data = line + b"\n"
        self._write(b"%X\r\n%s\r\n" % (len(data), data))
        with self.state.lock:
            self.state.lines_sent += 1

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST: the client sees "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket's file object holds it open; the socket itself closes only after it
        self.connection.close()
        raise _Reset

    def _end_chunks(self) -> None:
        self._write(b"0\r\n\r\n")

    def _write(self, data: bytes) -> None:
        if self._client_gone():
            raise _ClientLeft
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            raise _ClientLeft from None

    def _wait(self, seconds: float | None) -> None:
        """Sleep (None: until the client leaves or the server stops), noticing a client that goes away."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not self.state.closing.is_set():
            remaining = POLL_S if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._client_gone(min(POLL_S, remaining)):
                raise _ClientLeft
        raise _Stopping

    def _client_gone(self, wait_s: float = 0.0) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], wait_s)
            if not readable:
                return False
            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                return True
            time.sleep(wait_s)  # bytes of a next request: not a disconnect
            return False
        except (OSError, ValueError):
            return True

    def _send_json(self, status: int, obj: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), "application/json; charset=utf-8")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
