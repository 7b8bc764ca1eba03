"""Ollama's client stays on the configured host (a redirect is an error, never followed), and a big model's slow
first load gets its own deadline instead of handing the session to the embedded model."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.config import Config, LlmConfig, OllamaConfig
from assistant.core.ports import LlmError
from assistant.engines.llm.choose import load_llm
from assistant.engines.llm.ollama import OllamaLlm
from tests.ollama_standin import OllamaStandIn

MODEL = "llama3.2:1b"


class _Redirecting(BaseHTTPRequestHandler):
    """Answers everything with a 307 to `target`: where a hijacked or misconfigured host would send the client."""

    target = ""

    def _redirect(self) -> None:
        self.send_response(307)
        self.send_header("Location", self.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _redirect

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def redirecting_host():
    """(host that redirects, the Ollama stand-in it points to)."""
    with OllamaStandIn(models=[MODEL]) as elsewhere:
        handler = type("Handler", (_Redirecting,), {"target": elsewhere.host})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", elsewhere
        finally:
            server.shutdown()
            server.server_close()


def ollama_config(host: str, *, load_timeout_s: float = 120.0, backend: str = "ollama") -> Config:
    ollama = OllamaConfig(host=host, model=MODEL, connect_timeout_s=0.5, load_timeout_s=load_timeout_s)
    return dataclasses.replace(Config(), llm=LlmConfig(backend=backend, ollama=ollama, first_token_timeout_s=0.5))


def test_a_redirect_is_not_followed_off_the_configured_host(redirecting_host):
    host, elsewhere = redirecting_host

    async def run() -> tuple[str | None, str, str]:
        llm = OllamaLlm(ollama_config(host).llm)
        try:
            why_not = await llm.probe()
            with pytest.raises(LlmError) as preload:
                await llm.preload()
            with pytest.raises(LlmError) as stream:
                async for _ in llm.stream([{"role": "user", "content": "Hi"}]):
                    pass
            return why_not, str(preload.value), str(stream.value)
        finally:
            await llm.close()

    for message in asyncio.run(run()):
        assert message == (f"Ollama at {host} answered with a redirect (HTTP 307), not followed: set [llm.ollama] "
                           "host to the server itself")
    assert elsewhere.requests == []  # not one chat request reached the other host
    assert elsewhere.lines_sent == 0


def test_a_slow_first_load_waits_for_load_timeout_not_the_first_token_timeout():
    with OllamaStandIn(models=[MODEL]) as server:
        server.load_takes(1.5)  # three times the first-token timeout

        async def loaded() -> tuple[str, str | None]:
            choice = await load_llm(ollama_config(server.host, load_timeout_s=5.0))
            await choice.model.close()
            return choice.model.name, choice.fallback

        assert asyncio.run(loaded()) == (f"ollama {MODEL}", None)

        with pytest.raises(LlmError, match=r"did not load model 'llama3\.2:1b' within 1s \(raise \[llm\.ollama\] "
                                           r"load_timeout_s\)"):
            asyncio.run(load_llm(ollama_config(server.host, load_timeout_s=0.5)))
