"""At runtime the only network peer is the configured Ollama host, even with a proxy named in the environment.

A real session (engines loaded, one spoken question answered) runs under `tests.netwatch`, which sees Python's
socket calls through audit hooks and native code's sockets through /proc. The embedded llama.cpp server listens on
a private Unix socket, which is local and allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import socket
import time
from urllib.parse import urlsplit

import pytest

from assistant.bench.spans import place
from assistant.core.ports import EngineInfo, EngineRole
from assistant.frontends.duplex import run_duplex
from tests.netwatch import watching
from tests.ollama_standin import OllamaStandIn
from tests.test_llm import closed_port_host

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
UNROUTABLE_PROXY = "http://192.0.2.1:3128"  # TEST-NET-1: a connection there would be seen, and go nowhere


def session_config(config, host: str):
    replace = dataclasses.replace
    return replace(config, llm=replace(config.llm, backend="auto", max_tokens=8,
                                       ollama=replace(config.llm.ollama, host=host)),
                   tts=replace(config.tts, engine="piper"),
                   conversation=replace(config.conversation, metrics_file=""))


def internet_calls(calls) -> list:
    """Name lookups, and connects or sends to an (address, port): Unix socket paths are left out."""
    return [(event, target) for event, target in calls if event == "socket.getaddrinfo" or isinstance(target, tuple)]


@pytest.mark.parametrize("ollama", ["stand-in", "closed port"])
def test_a_session_reaches_only_the_configured_ollama_host(config, question_voice, tmp_path, monkeypatch, ollama):
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, UNROUTABLE_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    place([(0.3, question_voice("What day comes after Monday?"))], total_s=4.0, path=tmp_path / "in.wav")
    with contextlib.ExitStack() as stack:
        host = stack.enter_context(OllamaStandIn()).host if ollama == "stand-in" else closed_port_host()
        with watching() as watch:
            result = asyncio.run(run_duplex(session_config(config, host), tmp_path / "in.wav", None))
    assert result.turns and result.turns[0].reply, result.turns
    ollama_host = urlsplit(host)
    endpoint = (ollama_host.hostname, ollama_host.port)

    calls = internet_calls(watch.calls)
    strangers = [(event, target) for event, target in calls
                 if (target[:2] != endpoint if isinstance(target, tuple) else target != endpoint[0])]
    assert not strangers, strangers
    assert ("socket.connect", endpoint) in calls  # the probe, at least: the watch is really watching
    strange_sockets = [s for s in watch.sockets if endpoint not in (s.local, s.remote)]
    assert not strange_sockets, strange_sockets
    if ollama == "stand-in":
        assert "auto: Ollama answered" in llm_info(result).why
        assert any(s.remote == endpoint for s in watch.sockets), watch.sockets  # /proc saw the client side
    else:
        assert "auto: Ollama is not answering" in llm_info(result).why


def llm_info(result) -> EngineInfo:
    return next(info for info in result.engines if info.role == EngineRole.LLM)


class SockaddrIn(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("port", ctypes.c_ubyte * 2), ("address", ctypes.c_ubyte * 4),
                ("zero", ctypes.c_ubyte * 8)]


def test_the_watch_sees_a_connection_made_by_native_code():
    """libc's connect() skips Python's audit hooks, as llama.cpp would: /proc must still show the peer."""
    libc = ctypes.CDLL(None, use_errno=True)
    with socket.create_server(("127.0.0.1", 0)) as server, socket.socket() as client:
        port = server.getsockname()[1]
        with watching() as watch:
            address = SockaddrIn(socket.AF_INET, (ctypes.c_ubyte * 2)(*port.to_bytes(2, "big")),
                                 (ctypes.c_ubyte * 4)(*socket.inet_aton("127.0.0.1")))
            assert libc.connect(client.fileno(), ctypes.byref(address), ctypes.sizeof(address)) == 0
            accepted, _ = server.accept()
            accepted.close()
            time.sleep(0.05)  # a few samples while the connection stands
    assert not internet_calls(watch.calls)  # invisible to the audit hooks
    assert any(s.remote == ("127.0.0.1", port) and s.proto == "tcp" for s in watch.sockets), watch.sockets
