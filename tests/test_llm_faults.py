"""Ollama faults through a whole conversation: the real `ollama` client against the loopback stand-in, spoken
questions in a WAV as the microphone (`run_duplex`), the real VAD.

Each fault meets one turn. The user must hear the short spoken notice and get a `Notice` (also in the turn's
record) within the configured timeout; what was already spoken stays in the history, marked interrupted (the next
request shows it to the model); the pipeline listens again and answers the next question. With backend = auto,
Ollama going away hands the rest of the session to the embedded model, said once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from assistant.core.answer import SPOKEN_LLM_NOTICE
from assistant.core.events import Notice, State, StateChanged
from assistant.core.ports import LlmError
from assistant.core.records import Stage
from assistant.engines.llm.embedded import EmbeddedLlm
from assistant.engines.llm.fallback import FallbackLlm
from assistant.engines.llm.ollama import OllamaLlm
from tests.ollama_standin import OllamaStandIn, Script
from tests.scripted import RecordingTts, ScriptedLlm, ScriptedStt, ScriptedTts, converse, fast_config

MODEL = "llama3.2:1b"
TIMEOUT_S = 0.6  # first-token and between-token timeouts
CONNECT_S = 0.3
SLACK_S = 0.5  # event-loop and scheduling slack on 2 shared cores
PARTIAL = ("Paris is the capital. ", "It has", " many", " museums.")
HEARD = PARTIAL[0].strip()  # spoken from the first token on, so before any fault after it
GOOD_REPLY = "".join(Script().tokens)  # the stand-in's default answer


@dataclass(frozen=True)
class Fault:
    """One Ollama fault; `acts` change the stand-in once that many turns have ended (0: before the session)."""

    scripts: tuple[Script, ...] = ()  # the stand-in's next answers; then its default one
    notice: str = ""  # what the failed turn's notice must say (a regex)
    timeout_s: float = 0.0  # the configured timeout that ends the turn; 0: the fault shows at once
    heard: str = ""  # the part of the reply spoken before the fault
    outcomes: tuple[str, ...] = ("failed", "replied")
    models: tuple[str, ...] = (MODEL,)
    acts: dict[int, Callable[[OllamaStandIn], None]] = field(default_factory=dict)


def stop(server: OllamaStandIn) -> None:
    server.stop()


def start(server: OllamaStandIn) -> None:
    server.start()


def pull(server: OllamaStandIn) -> None:
    server.pull(MODEL)


UNREADABLE = "Ollama sent a reply this client cannot read"
FAULTS = {
    "not running": Fault(notice=r"Ollama is not answering at .*: start it with `ollama serve`",
                         acts={0: stop, 1: start}),
    "unknown model": Fault(notice=rf"Ollama has no model '{MODEL}': run `ollama pull {MODEL}`", models=("other:7b",),
                           acts={1: pull}),
    "refused mid-session": Fault(notice=r"Ollama is not answering", outcomes=("replied", "failed", "replied"),
                                 acts={1: stop, 2: start}),
    "hang before the first token": Fault((Script(hang_after=0),), rf"no first token within {TIMEOUT_S:g}s",
                                         TIMEOUT_S),
    "hang mid-stream": Fault((Script(PARTIAL, hang_after=2),), rf"no token for {TIMEOUT_S:g}s", TIMEOUT_S, HEARD),
    # nothing heard: the chunker cuts the first sentence only once the next token shows where it ends
    "tokens slower than the timeout": Fault((Script(PARTIAL, token_delay_s=TIMEOUT_S + 0.6),),
                                            rf"no token for {TIMEOUT_S:g}s", TIMEOUT_S),
    "slow tokens within the timeout": Fault((Script(PARTIAL, first_token_delay_s=TIMEOUT_S - 0.2,
                                                    token_delay_s=TIMEOUT_S - 0.2),), outcomes=("replied", "replied")),
    "error line mid-stream": Fault((Script(PARTIAL, error_after=2, error="CUDA error: out of memory"),),
                                   r"Ollama failed mid-reply: CUDA error: out of memory", heard=HEARD),
    "connection reset mid-stream": Fault((Script(PARTIAL, reset_after=2),), r"closed the connection mid-reply",
                                         heard=HEARD),
    "malformed JSON line": Fault((Script(PARTIAL, garbage_after=2),), UNREADABLE, heard=HEARD),
    "JSON line that is not an object": Fault((Script(PARTIAL, garbage_after=2, garbage=b"[1, 2]"),), UNREADABLE,
                                             heard=HEARD),
}
CASES = [pytest.param(name, "scripted", id=name) for name in FAULTS]
CASES.append(pytest.param("hang mid-stream", "real", id="hang mid-stream, real STT and TTS"))


def ollama_config(config, host: str, backend: str = "ollama", **llm):
    cfg = fast_config(config, llm_timeout_s=TIMEOUT_S, connect_timeout_s=CONNECT_S)
    ollama = dataclasses.replace(cfg.llm.ollama, host=host, model=MODEL)
    return dataclasses.replace(cfg, llm=dataclasses.replace(cfg.llm, backend=backend, ollama=ollama, **llm))


def answered(conversation) -> int:
    return sum(record.answered for record in conversation.records)


def acting(server: OllamaStandIn, acts: dict[int, Callable[[OllamaStandIn], None]], seen: list | None = None):
    """A `control` for run_duplex: each act once its turn count has ended (`seen` gets the LLM at each act)."""

    async def control(conversation) -> None:
        for after, act in sorted(acts.items()):
            while answered(conversation) < after:
                await asyncio.sleep(0.02)
            if seen is not None:
                seen.append(conversation.engines.llm.name)
            await asyncio.to_thread(act, server)

    return control


def timed(events: list) -> Callable:
    return lambda event: events.append((time.monotonic(), event))


def seconds_to_notice(result, tts: RecordingTts, turn_index: int) -> float:
    """From the failed turn's final transcript (the LLM request starts right after) to its spoken notice.

    The transcript's time is the turn record's, not its event's: with a speculative end of turn the event is held
    until the end of the turn is confirmed, while the request goes out at once."""
    final_at = result.ready_at + result.turns[turn_index].times_ms[Stage.STT_FINAL] / 1000
    return next(at for at, text in tts.asked if text == SPOKEN_LLM_NOTICE and at > final_at) - final_at


@pytest.mark.parametrize(("name", "engines"), CASES)
def test_an_ollama_fault_ends_one_turn_with_a_notice_and_the_next_turn_is_answered(
        name, engines, config, questions, tmp_path, request):
    fault = FAULTS[name]
    wav, _ = questions(len(fault.outcomes))
    cfg = ollama_config(config, "")
    if engines == "real":
        stt, tts = request.getfixturevalue("stt"), RecordingTts(request.getfixturevalue("piper"))
        cfg = dataclasses.replace(cfg, conversation=dataclasses.replace(cfg.conversation, stt_timeout_s=10,
                                                                        tts_timeout_s=10))
    else:
        stt, tts = ScriptedStt(), RecordingTts(ScriptedTts())
    events: list = []
    with OllamaStandIn(models=fault.models) as server:
        server.script_by_question(*fault.scripts)
        cfg = ollama_config(cfg, server.host)
        if 0 in fault.acts:
            fault.acts[0](server)
        later = {after: act for after, act in fault.acts.items() if after}
        result, notices = converse(cfg, wav, tmp_path, stt, OllamaLlm(cfg.llm), tts, on_event=timed(events),
                                   control=acting(server, later))
        requests = server.requests

    turns = result.turns
    assert [t.outcome for t in turns] == list(fault.outcomes), turns
    assert turns[-1].reply == GOOD_REPLY and not turns[-1].notice
    if "failed" not in fault.outcomes:  # slow, but within the timeout: the whole reply
        assert turns[0].reply == "".join(PARTIAL)
        assert notices == [] and SPOKEN_LLM_NOTICE not in tts.texts
        return

    failed_index = fault.outcomes.index("failed")
    failed = turns[failed_index]
    assert re.search(fault.notice, failed.notice), failed.notice
    assert notices == [failed.notice] and "\n" not in failed.notice
    # the spoken notice came within the configured timeout, and (for a timeout) not before it
    took = seconds_to_notice(result, tts, failed_index)
    assert fault.timeout_s - 0.05 <= took <= fault.timeout_s + SLACK_S, f"notice after {took:.2f}s"
    # it was spoken, after whatever of the reply had been spoken already
    assert failed.times_ms.get("first_audio") is not None
    assert tts.texts.count(SPOKEN_LLM_NOTICE) == 1
    assert failed.reply == fault.heard
    if fault.heard:
        assert tts.texts.index(fault.heard) < tts.texts.index(SPOKEN_LLM_NOTICE)
        assert [m for m in result.history if m.interrupted] == [m for m in result.history if m.content == fault.heard]
        assert {"role": "assistant", "content": f"{fault.heard}…"} in requests[-1]["messages"]
    else:
        assert not any(m.interrupted for m in result.history)
    # the written notice came with the spoken one, not after it had played: when the notice was synthesized, or,
    # if that was before the end of the turn was confirmed (both held until then), at the confirmation
    notice_at = events[[e for _, e in events].index(Notice(failed.notice))][0]
    spoken_at = next(at for at, text in tts.asked if text == SPOKEN_LLM_NOTICE)
    confirmed_at = result.ready_at + failed.times_ms[Stage.END_OF_TURN] / 1000
    assert abs(notice_at - max(spoken_at, confirmed_at)) < 0.05
    # back to listening once the spoken notice has played
    after_notice = [e.state for at, e in events if isinstance(e, StateChanged) and at >= notice_at]
    listening = after_notice.index(State.LISTENING)
    assert set(after_notice[:listening]) <= {State.SPEAKING}


# --- backend = auto: the embedded model takes over -------------------------------------------------------------


def test_auto_hands_the_session_to_the_embedded_model_once_ollama_goes_away(config, questions, tmp_path):
    wav, _ = questions(3)
    events: list = []
    llm_at_acts: list[str] = []
    with OllamaStandIn(models=[MODEL]) as server:
        cfg = ollama_config(config, server.host, backend="auto", max_tokens=12)
        # the embedded model with limits of its own, not the fault tests' 0.6 s: a busy machine must not fail it
        slow_ok = dataclasses.replace(cfg, llm=dataclasses.replace(cfg.llm, first_token_timeout_s=5.0,
                                                                   token_timeout_s=5.0))
        load_started: list[float] = []

        def load():
            load_started.append(time.monotonic())
            return EmbeddedLlm.load(slow_ok)

        llm = FallbackLlm(OllamaLlm(cfg.llm), load)
        tts = RecordingTts(ScriptedTts())
        result, notices = converse(cfg, wav, tmp_path, ScriptedStt(), llm, tts,
                                   on_event=timed(events), control=acting(server, {1: stop}, llm_at_acts))
        assert len(server.requests) == 1  # only the first turn reached Ollama

    first, second, third = result.turns
    assert first.outcome == "replied" and first.reply == GOOD_REPLY
    assert llm_at_acts == [f"ollama {MODEL}"]  # nothing else loaded while Ollama answered
    assert second.outcome == "failed"
    assert second.notice == "Ollama stopped answering (connection refused): using the embedded model from now on"
    assert seconds_to_notice(result, tts, 1) <= SLACK_S
    # loaded once the notice had played, not while it was to be said: llama.cpp loads with the GIL held
    spoken_at = next(at for at, text in tts.asked if text == SPOKEN_LLM_NOTICE)
    assert load_started[0] >= spoken_at + ScriptedTts.seconds(SPOKEN_LLM_NOTICE)
    # answered by the embedded model (Ollama saw one request), whatever it said: a tiny model at temperature 0 may
    # well repeat the stand-in's earlier answer from the history
    assert third.outcome == "replied" and third.reply.strip()
    assert notices == [second.notice]  # said once, not again on the turn the embedded model answered
    assert llm.name.startswith("embedded SmolLM2")
    # loaded in the background before the next question: the third turn did not wait for the load
    assert third.times_ms["llm_first_token"] - third.times_ms["stt_final"] < 1500


# --- FallbackLlm on its own (a scripted stand-in for the embedded model: fast) ---------------------------------

QUESTION = [{"role": "user", "content": "Hi?"}]


async def reply(llm) -> str:
    return "".join([delta async for delta in llm.stream(QUESTION)])


OUTAGES = {
    "refused": (None, "connection refused"),
    "reset mid-stream": (Script(reset_after=1), "connection dropped mid-reply"),
    "hang before the first token": (Script(hang_after=0), f"no first token within {TIMEOUT_S:g}s"),
    "hang mid-stream": (Script(hang_after=1), f"no token for {TIMEOUT_S:g}s"),
}
NOT_OUTAGES = {
    "error line": Script(error_after=1),
    "malformed line": Script(garbage_after=1),
}


def run_fallback(config, server: OllamaStandIn, body, loader=None, loads: list[str] | None = None) -> list[str]:
    """Run `await body(llm)` with a FallbackLlm over the stand-in; returns the fallback's load log (`loads`, if
    given, is that log: `body` may read it as it grows)."""
    loads = [] if loads is None else loads

    async def load():
        loads.append("load")
        return ScriptedLlm([["Embedded ", "here."]] * 5)

    async def main() -> None:
        llm = FallbackLlm(OllamaLlm(ollama_config(config, server.host, backend="auto").llm), loader or load)
        try:
            await body(llm)
        finally:
            await llm.close()

    asyncio.run(main())
    return loads


@pytest.mark.parametrize("outage", OUTAGES)
def test_an_outage_fails_one_turn_with_a_one_time_notice_then_the_fallback_answers(config, outage):
    script, cause = OUTAGES[outage]

    async def body(llm: FallbackLlm) -> None:
        assert await reply(llm) == GOOD_REPLY and llm.name == f"ollama {MODEL}" and llm.calls_tools
        if script is None:
            await asyncio.to_thread(server.stop)
        else:
            server.script(script)
        with pytest.raises(LlmError) as caught:
            await reply(llm)
        assert str(caught.value) == f"Ollama stopped answering ({cause}): using the embedded model from now on"
        await asyncio.sleep(0.05)
        assert loads == []  # not while the notice is still to be said: the load would delay it
        assert caught.value.after_notice is not None
        caught.value.after_notice()  # the notice has played
        await asyncio.sleep(0)
        assert loads == ["load"]  # in the background, before the next turn asks
        assert [await reply(llm) for _ in range(3)] == ["Embedded here."] * 3  # no further notice
        assert llm.name == "scripted"
        assert not llm.calls_tools  # from now on the intent layer serves the time and timers

    with OllamaStandIn(models=[MODEL]) as server:
        loads: list[str] = []
        run_fallback(config, server, body, loads=loads)
        assert len(server.requests) == 1 + (script is not None)
    assert loads == ["load"]


def test_an_outage_notice_cut_off_the_next_turn_loads_the_fallback(config):
    async def body(llm: FallbackLlm) -> None:
        await asyncio.to_thread(server.stop)
        with pytest.raises(LlmError, match="using the embedded model"):
            await reply(llm)
        # the user cut the notice off and asked again: its `after_notice` never ran
        assert await reply(llm) == "Embedded here."

    with OllamaStandIn(models=[MODEL]) as server:
        assert run_fallback(config, server, body) == ["load"]


@pytest.mark.parametrize("fault", NOT_OUTAGES)
def test_a_bad_reply_is_not_an_outage_ollama_answers_the_next_turn(config, fault):
    async def body(llm: FallbackLlm) -> None:
        server.script(NOT_OUTAGES[fault])
        with pytest.raises(LlmError) as caught:
            await reply(llm)
        assert "embedded" not in str(caught.value)
        assert await reply(llm) == GOOD_REPLY

    with OllamaStandIn(models=[MODEL]) as server:
        assert run_fallback(config, server, body) == []


def test_a_fallback_that_cannot_load_says_why_and_ollama_is_tried_again(config):
    from assistant.errors import ModelError

    async def broken():
        raise ModelError("models/smollm/x.gguf is corrupt (sha256 mismatch): run `voice-assistant models pull`")

    async def body(llm: FallbackLlm) -> None:
        await asyncio.to_thread(server.stop)
        with pytest.raises(LlmError, match="using the embedded model"):
            await reply(llm)
        with pytest.raises(LlmError, match=r"embedded model could not stand in for Ollama: .*corrupt.*models pull"):
            await reply(llm)
        await asyncio.to_thread(server.start)
        assert await reply(llm) == GOOD_REPLY

    with OllamaStandIn(models=[MODEL]) as server:
        run_fallback(config, server, body, loader=broken)
