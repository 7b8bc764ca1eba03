"""Which language model answers: `load_llm(config)` picks and loads the backend and says why in one line.

backend = auto: Ollama if it answers and has the model, else the embedded model; and if Ollama stops answering
mid-session, the embedded model from then on (fallback.py).

Use `contextlib.aclosing(model.stream(...))` when you may `break` out of the loop: a plain `break` leaves the
generator suspended until the garbage collector closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from dataclasses import dataclass
from urllib.parse import urlsplit

from assistant.config import Config
from assistant.core.ports import LanguageModel, LlmError
from assistant.engines.llm.embedded import EmbeddedLlm


@dataclass(frozen=True)
class LlmChoice:
    """What `load_llm` picked, and a one-line reason fit for a status line."""

    model: LanguageModel
    why: str  # why this backend, without its name: "backend = embedded", "auto: Ollama answered at …"
    fallback: str | None = None  # with backend = auto: why Ollama was not used, if it was not


async def load_llm(config: Config) -> LlmChoice:
    """Load the configured backend, ready to answer (model loaded and warmed up).

    backend = "ollama": Ollama or an `LlmError` saying how to fix it. backend = "embedded": llama.cpp in-process.
    backend = "auto": Ollama if it answers within the connect timeout and has the model, else the embedded model.
    """
    llm = config.llm
    if llm.backend == "embedded":
        model = await EmbeddedLlm.load(config)
        return LlmChoice(model, "backend = embedded")

    if llm.backend == "auto" and await nothing_listens(llm.ollama.host, llm.ollama.connect_timeout_s):
        refused = f"Ollama is not answering at {llm.ollama.host}"
        return LlmChoice(await EmbeddedLlm.load(config), f"auto: {refused}", fallback=refused)
    # Imported only now: httpx, pydantic and the client take ~0.2 s of a launch's CPU (and hold the GIL meanwhile).
    from assistant.engines.llm.fallback import FallbackLlm
    from assistant.engines.llm.ollama import OllamaLlm

    ollama_llm = await asyncio.to_thread(OllamaLlm, llm)  # building the httpx client reads CA files: ~25 ms
    try:
        if llm.backend == "ollama":
            await ollama_llm.preload()
            return LlmChoice(ollama_llm, f"backend = ollama, at {llm.ollama.host}")
        why_not = await ollama_llm.probe()
        if why_not is None:
            try:
                await ollama_llm.preload()
            except LlmError as error:
                why_not = str(error)
            else:

                # Should Ollama stop answering mid-session, the embedded model takes over (loaded only then).
                return LlmChoice(FallbackLlm(ollama_llm, lambda: EmbeddedLlm.load(config)),
                                 f"auto: Ollama answered at {llm.ollama.host}")
    except BaseException:
        await ollama_llm.close()
        raise
    await ollama_llm.close()
    model = await EmbeddedLlm.load(config)
    return LlmChoice(model, f"auto: {why_not}", fallback=why_not)


def ollama_address(host: str) -> tuple[str, int]:
    """Where `[llm.ollama] host` points, read as Ollama's client reads it: a bare host means port 11434."""
    with_scheme = "://" in host
    parts = urlsplit(host if with_scheme else f"http://{host}")
    default_port = (443 if parts.scheme == "https" else 80) if with_scheme else 11434
    return parts.hostname or "127.0.0.1", parts.port or default_port


async def nothing_listens(host: str, timeout_s: float) -> bool:
    """True only if the connection is refused: no Ollama there, and no need to load its client to find out. Any
    other outcome (it connects, it is slow, the name does not resolve) is left to the client's probe, which says
    what is wrong."""
    try:
        address = ollama_address(host)
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(*address)
    except OSError as error:
        return error.errno == errno.ECONNREFUSED
    except (TimeoutError, ValueError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return False
