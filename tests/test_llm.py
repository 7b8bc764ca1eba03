"""The language model: the real `ollama` client against a loopback stand-in, and real llama.cpp (SmolLM2)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from assistant.config import Config, LlmConfig, OllamaConfig
from assistant.core.ports import LanguageModel, LlmDeadlines, LlmError
from assistant.engines.llm.choose import load_llm, nothing_listens, ollama_address
from assistant.engines.llm.embedded import EmbeddedLlm, resolve_gguf
from assistant.engines.llm.fallback import FallbackLlm
from assistant.engines.llm.ollama import OllamaLlm
from tests.ollama_standin import OllamaStandIn, Script

MODEL = "llama3.2:1b"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
STORY = [{"role": "user", "content": "Tell me a long story about a dragon and a knight."}]
FAULT_TIMEOUT_S = 0.5
SLACK_S = 0.35  # scheduling slack on 2 shared cores


@pytest.fixture
def standin() -> Iterator[OllamaStandIn]:
    with OllamaStandIn(models=[MODEL]) as server:
        yield server


def closed_port_host() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def llm_config(config: Config, host: str, *, backend: str = "ollama", model: str = MODEL,
               max_tokens: int = 120, token_timeout_s: float = FAULT_TIMEOUT_S) -> Config:
    ollama = OllamaConfig(host=host, model=model, connect_timeout_s=FAULT_TIMEOUT_S)
    return dataclasses.replace(config, llm=LlmConfig(backend=backend, max_tokens=max_tokens, ollama=ollama,
                                                     first_token_timeout_s=token_timeout_s,
                                                     token_timeout_s=token_timeout_s))


async def collect(model: LanguageModel, messages: list[dict[str, str]], into: list[str]) -> list[str]:
    async with contextlib.aclosing(model.stream(messages)) as deltas:
        async for delta in deltas:
            into.append(delta)
    return into


def run_ollama(config: Config, body) -> None:
    """Run `await body(llm)` with an OllamaLlm on a fresh event loop, closing the client afterwards."""

    async def main() -> None:
        llm = OllamaLlm(config.llm)
        try:
            await body(llm)
        finally:
            await llm.close()

    asyncio.run(main())


# --- Ollama -------------------------------------------------------------------------------------------------


def test_ollama_streams_deltas_in_order(config, standin):
    tokens = ["The", " capital", " of", " France", " is", " Paris", "."]
    standin.script(Script(tokens=tokens, token_delay_s=0.01))
    got: list[str] = []

    async def body(llm: OllamaLlm) -> None:
        assert isinstance(llm, LanguageModel)
        assert llm.name == f"ollama {MODEL}"
        await collect(llm, QUESTION, got)

    run_ollama(llm_config(config, standin.host, max_tokens=42), body)
    assert got == tokens
    [request] = standin.requests
    assert request["model"] == MODEL and request["stream"] is True
    assert request["options"] == {"num_predict": 42, "temperature": config.llm.temperature}
    assert request["messages"] == [{"role": "system", "content": config.llm.system_prompt}, *QUESTION]


def test_ollama_keeps_a_system_message_the_caller_gave(config, standin):
    messages = [{"role": "system", "content": "Be terse."}, *QUESTION]

    async def body(llm: OllamaLlm) -> None:
        await collect(llm, messages, [])

    run_ollama(llm_config(config, standin.host), body)
    assert standin.requests[0]["messages"] == messages


def test_ollama_unknown_model_says_ollama_pull(config, standin):
    async def body(llm: OllamaLlm) -> None:
        with pytest.raises(LlmError, match=r"no model 'qwen9:7b': run `ollama pull qwen9:7b`"):
            await collect(llm, QUESTION, [])

    run_ollama(llm_config(config, standin.host, model="qwen9:7b"), body)


def test_ollama_not_running_says_ollama_serve_within_the_connect_timeout(config):
    host = closed_port_host()

    async def body(llm: OllamaLlm) -> None:
        start = time.monotonic()
        with pytest.raises(LlmError, match=r"not answering at .*: start it with `ollama serve`") as caught:
            await collect(llm, QUESTION, [])
        assert time.monotonic() - start < FAULT_TIMEOUT_S
        assert host in str(caught.value) and "\n" not in str(caught.value)

    run_ollama(llm_config(config, host), body)


def test_ollama_that_accepts_no_connection_fails_within_the_connect_timeout(config):
    # A listening socket that never accepts, with its backlog full: new connections hang in SYN_SENT.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        host = f"http://127.0.0.1:{listener.getsockname()[1]}"
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(listener.getsockname())
            fillers.append(filler)

        async def body(llm: OllamaLlm) -> None:
            start = time.monotonic()
            with pytest.raises(LlmError, match=r"ollama serve|did not take the request"):
                await collect(llm, QUESTION, [])
            assert time.monotonic() - start < FAULT_TIMEOUT_S + SLACK_S

        try:
            run_ollama(llm_config(config, host), body)
        finally:
            for filler in fillers:
                filler.close()


def test_ollama_error_line_mid_stream_after_the_deltas_before_it(config, standin):
    standin.script(Script(tokens=["Sure", ",", " the"], error_after=2, error="CUDA error: out of memory"))
    got: list[str] = []

    async def body(llm: OllamaLlm) -> None:
        with pytest.raises(LlmError, match="CUDA error: out of memory"):
            await collect(llm, QUESTION, got)

    run_ollama(llm_config(config, standin.host), body)
    assert got == ["Sure", ","]


def test_ollama_hang_before_first_token_times_out(config, standin):
    standin.script(Script(hang_after=0))

    async def body(llm: OllamaLlm) -> None:
        start = time.monotonic()
        with pytest.raises(LlmError, match=r"no first token within 0.5s"):
            await collect(llm, QUESTION, [])
        assert FAULT_TIMEOUT_S - 0.05 <= time.monotonic() - start < FAULT_TIMEOUT_S + SLACK_S

    run_ollama(llm_config(config, standin.host), body)
    assert standin.disconnected.wait(1.0), "the server never saw the client give up"


def test_ollama_hang_mid_stream_times_out_between_tokens(config, standin):
    standin.script(Script(tokens=["One", " two", " three"], hang_after=2))
    got: list[str] = []

    async def body(llm: OllamaLlm) -> None:
        with pytest.raises(LlmError, match=r"no token for 0.5s"):
            await collect(llm, QUESTION, got)
        elapsed = time.monotonic() - started
        assert FAULT_TIMEOUT_S - 0.05 <= elapsed < FAULT_TIMEOUT_S + SLACK_S

    started = time.monotonic()
    run_ollama(llm_config(config, standin.host), body)
    assert got == ["One", " two"]
    assert standin.disconnected.wait(1.0)


def test_ollama_slow_but_steady_tokens_are_not_a_timeout(config, standin):
    tokens = ["a", "b", "c", "d"]
    standin.script(Script(tokens=tokens, first_token_delay_s=0.3, token_delay_s=0.3))
    got: list[str] = []

    async def body(llm: OllamaLlm) -> None:
        await collect(llm, QUESTION, got)

    run_ollama(llm_config(config, standin.host), body)
    assert got == tokens


def test_cancelling_the_reader_disconnects_from_ollama(config, standin):
    standin.script(Script(tokens=[f" w{i}" for i in range(100)], token_delay_s=0.02))
    got: list[str] = []

    async def body(llm: OllamaLlm) -> None:
        reader = asyncio.create_task(collect(llm, STORY, got))
        while len(got) < 2:
            await asyncio.sleep(0.005)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        cancelled_at = time.monotonic()
        assert await asyncio.to_thread(standin.disconnected.wait, 1.0), "the server never saw the disconnect"
        assert time.monotonic() - cancelled_at < 0.2

    run_ollama(llm_config(config, standin.host), body)
    assert 2 <= len(got) < 10
    assert standin.lines_sent < 20, "the server kept generating after the cancel"


def test_closing_the_stream_early_disconnects_from_ollama(config, standin):
    standin.script(Script(tokens=[f" w{i}" for i in range(100)], token_delay_s=0.02))

    async def body(llm: OllamaLlm) -> None:
        stream: AsyncIterator[str] = llm.stream(STORY)
        async with contextlib.aclosing(stream):
            async for _ in stream:
                break
        assert await asyncio.to_thread(standin.disconnected.wait, 1.0)

    run_ollama(llm_config(config, standin.host), body)
    assert standin.lines_sent < 20


def test_probe(config, standin):
    async def probe(cfg: Config) -> str | None:
        llm = OllamaLlm(cfg.llm)
        try:
            return await llm.probe()
        finally:
            await llm.close()

    assert asyncio.run(probe(llm_config(config, standin.host))) is None
    missing = asyncio.run(probe(llm_config(config, standin.host, model="phi9")))
    assert missing is not None and "no model 'phi9'" in missing
    down = asyncio.run(probe(llm_config(config, closed_port_host())))
    assert down is not None and "not answering" in down


# --- load_llm ------------------------------------------------------------------------------------------------


def test_auto_picks_ollama_when_it_answers_with_the_model(config, standin):
    async def main() -> tuple[str, str, LanguageModel]:
        choice = await load_llm(llm_config(config, standin.host, backend="auto"))
        model, reason = choice.model, choice.why
        try:
            return model.name, reason, model
        finally:
            await model.close()

    name, reason, model = asyncio.run(main())
    # Ollama, with the embedded model to stand in should it go away mid-session (not loaded until then)
    assert isinstance(model, FallbackLlm) and isinstance(model.primary, OllamaLlm) and model.fallback is None
    assert name == f"ollama {MODEL}"
    assert "auto" in reason and "Ollama answered" in reason and standin.host in reason


def test_auto_falls_back_to_embedded_when_ollama_is_not_running(config):
    host = closed_port_host()

    async def main() -> tuple[LanguageModel, str, str]:
        # The embedded model's own limits (not the fault tests' half second): a busy machine must not fail this
        choice = await load_llm(llm_config(config, host, backend="auto", token_timeout_s=5.0))
        model, reason = choice.model, choice.why
        try:
            text = "".join(await collect(model, QUESTION, []))
        finally:
            await model.close()
        return model, reason, text

    start = time.monotonic()
    model, reason, text = asyncio.run(main())
    assert isinstance(model, EmbeddedLlm) and model.name.startswith("embedded SmolLM2-135M")
    assert f"Ollama is not answering at {host}" in reason and "auto" in reason
    assert text.strip()
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(("host", "address"), [
    ("http://127.0.0.1:11434", ("127.0.0.1", 11434)),
    ("127.0.0.1", ("127.0.0.1", 11434)),  # as Ollama's client reads a bare host
    ("localhost:8080", ("localhost", 8080)),
    ("http://example.com", ("example.com", 80)),
    ("https://example.com", ("example.com", 443)),
    ("http://[::1]:11434", ("::1", 11434)),
])
def test_the_ollama_host_is_read_as_its_client_reads_it(host, address):
    assert ollama_address(host) == address


def test_only_a_refused_connection_skips_the_ollama_client(standin):
    """Auto skips loading Ollama's client (~0.2 s of a launch) only when nothing listens at all; anything else is
    left to the client's own probe, which says what is wrong."""
    assert asyncio.run(nothing_listens(closed_port_host(), 1.0))
    assert not asyncio.run(nothing_listens(standin.host, 1.0))
    assert not asyncio.run(nothing_listens("http://no-such-host.invalid:11434", 1.0))


def test_auto_falls_back_to_embedded_when_ollama_lacks_the_model(config, standin):
    async def main() -> tuple[type, str]:
        choice = await load_llm(llm_config(config, standin.host, backend="auto", model="phi9"))
        model, reason = choice.model, choice.why
        await model.close()
        return type(model), reason

    kind, reason = asyncio.run(main())
    assert kind is EmbeddedLlm
    assert "no model 'phi9'" in reason and "ollama pull phi9" in reason


def test_backend_ollama_fails_fast_with_the_fix_when_it_is_not_running(config):
    with pytest.raises(LlmError, match="ollama serve"):
        asyncio.run(load_llm(llm_config(config, closed_port_host(), backend="ollama")))


def test_backend_ollama_preloads_the_model(config, standin):
    async def main() -> str:
        choice = await load_llm(llm_config(config, standin.host, backend="ollama"))
        model, reason = choice.model, choice.why
        await model.close()
        return reason

    assert "backend = ollama" in asyncio.run(main())
    assert standin.requests == []  # the preload (no messages) is not a chat turn


# --- embedded llama.cpp ---------------------------------------------------------------------------------------

MAX_TOKENS = 200


@pytest.fixture(scope="module")
def embedded(config) -> Iterator[EmbeddedLlm]:
    cfg = dataclasses.replace(config, llm=dataclasses.replace(config.llm, max_tokens=MAX_TOKENS))
    model = asyncio.run(EmbeddedLlm.load(cfg))
    yield model
    asyncio.run(model.close())


def test_embedded_answers_a_simple_question(embedded):
    text = "".join(asyncio.run(collect(embedded, QUESTION, [])))
    assert any(ch.isalpha() for ch in text), text
    stats = embedded.last_stats
    assert stats is not None and not stats.stopped
    assert stats.tokens and stats.tokens <= MAX_TOKENS and stats.deltas > 0
    assert stats.tokens_per_s and stats.tokens_per_s > 10


async def _stop_after_first_delta(model: EmbeddedLlm, how: str) -> float:
    """Read one delta, stop (cancel the reader, or close the stream), return seconds until the engine is free."""
    got: list[str] = []
    first = asyncio.Event()

    async def reader() -> None:
        async with contextlib.aclosing(model.stream(STORY)) as deltas:
            async for delta in deltas:
                got.append(delta)
                first.set()
                if how == "close":
                    break

    task = asyncio.create_task(reader())
    await first.wait()
    stopped_at = time.monotonic()
    if how == "cancel":
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await model.engine.run(lambda: None)  # queued behind the generation: runs once llama.cpp has returned
    return time.monotonic() - stopped_at


@pytest.mark.parametrize("how", ["cancel", "close"])
def test_embedded_stops_generating_within_a_token_and_answers_again(embedded, how):
    free_after = asyncio.run(_stop_after_first_delta(embedded, how))
    stats = embedded.last_stats
    assert stats is not None and stats.stopped
    assert free_after < 0.2, f"engine busy {free_after:.3f}s after the stop"
    assert stats.deltas <= 5, f"{stats.deltas} tokens generated after a stop at the first"
    # The next request works, and is not stuck behind a generation that kept going: its first token comes at once
    # (the whole reply's time depends on how busy the machine is; a stuck engine would delay the start by seconds).
    async def first_token_after() -> tuple[float, str]:
        start = time.monotonic()
        async with contextlib.aclosing(embedded.stream(QUESTION)) as deltas:
            first = await anext(deltas)
            waited = time.monotonic() - start
            return waited, first + "".join([delta async for delta in deltas])

    waited, text = asyncio.run(first_token_after())
    assert text.strip()
    assert embedded.last_stats is not None and not embedded.last_stats.stopped
    assert waited < 1.0, f"the next request waited {waited:.2f}s for its first token"


@pytest.mark.parametrize(("warm_up_s", "error"), [(0.95, None), (None, "still warming up after 1s")])
def test_embedded_first_question_waits_for_the_warm_up_before_its_own_clock_starts(embedded, warm_up_s, error):
    """The load's warm-up runs in the background; a question asked meanwhile queues behind it, and only then does its
    first-token limit start (a warm-up that never ends is a stall, and says so)."""

    async def ask() -> str:
        # a warm-up that holds the engine thread for warm_up_s, or one that never ends
        embedded._warming = (asyncio.get_running_loop().create_future() if warm_up_s is None else
                             asyncio.ensure_future(embedded.engine.run(time.sleep, warm_up_s)))
        try:
            return "".join(await collect(embedded, QUESTION, []))
        finally:
            embedded._warming = None

    saved, embedded.deadlines = embedded.deadlines, LlmDeadlines(first_token_s=1.0, between_tokens_s=10.0)
    try:
        if error is None:
            assert asyncio.run(ask()).strip()
        else:
            with pytest.raises(LlmError, match=error):
                asyncio.run(ask())
    finally:
        embedded.deadlines = saved


def test_embedded_keeps_the_event_loop_free(embedded):
    async def main() -> float:
        gaps: list[float] = []
        done = False

        async def ticker() -> None:
            last = time.monotonic()
            while not done:
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        await collect(embedded, QUESTION, [])
        done = True
        await tick
        return max(gaps)

    assert asyncio.run(main()) < 0.05


def test_embedded_model_path_must_exist(config, tmp_path):
    cfg = dataclasses.replace(config, llm=dataclasses.replace(
        config.llm, embedded=dataclasses.replace(config.llm.embedded, model=str(tmp_path / "nope.gguf"))))
    with pytest.raises(LlmError, match="no such file"):
        resolve_gguf(cfg)


def test_embedded_model_by_name_resolves_through_the_model_store(config):
    path = resolve_gguf(config)
    assert path.name == "SmolLM2-135M-Instruct.Q8_0.gguf" and path.is_file()


def test_embedded_conversation_too_long_for_the_context_says_what_to_do(embedded):
    huge = [{"role": "user", "content": "word " * 5000}]
    with pytest.raises(LlmError, match=r"does not fit the embedded model's context .*context_tokens"):
        asyncio.run(collect(embedded, huge, []))
    assert "".join(asyncio.run(collect(embedded, QUESTION, []))).strip()


def test_embedded_stops_while_still_reading_a_long_prompt(embedded):
    # ~150 new prompt tokens take ~1.2 s to read at 1 thread; a stop 0.1 s in must not wait for all of them.
    long_prompt = [{"role": "user", "content": f"Story {time.time()}: " + "Tell me about dragons, knights, "
                    "castles and the sea, in great and loving detail. " * 8}]

    async def main() -> float:
        task = asyncio.create_task(collect(embedded, long_prompt, []))
        await asyncio.sleep(0.1)
        stopped_at = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await embedded.engine.run(lambda: None)
        return time.monotonic() - stopped_at

    free_after = asyncio.run(main())
    assert embedded.last_stats is not None and embedded.last_stats.stopped
    assert embedded.last_stats.deltas == 0
    assert free_after < 0.4, f"engine busy {free_after:.3f}s after a stop during the prompt"
