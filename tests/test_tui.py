"""The TUI: widgets driven by events (snapshots), keys on scripted engines, the real engines, the console script."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shlex
import subprocess
import sys
import time
import uuid

import pytest
from textual.widgets import Input

from assistant.bench.spans import place
from assistant.core.events import (
    FinalTranscript,
    MicLevel,
    Notice,
    PartialTranscript,
    ReplyDelta,
    ReplyInterrupted,
    State,
    StateChanged,
    TurnFinished,
)
from assistant.core.ports import EngineInfo, EngineRole, Engines
from assistant.core.records import Outcome, Stage, TurnDecision, TurnRecord
from assistant.core.types import Mode
from assistant.engines.vad import load_vad
from assistant.errors import ModelError
from assistant.frontends.tui.app import VoiceAssistantApp
from assistant.frontends.tui.chat_lines import NoticeLine, ReplyLine, UserLine
from assistant.frontends.tui.error_screen import StartupErrorScreen
from assistant.frontends.tui.latency_panel import LatencyPanel
from assistant.frontends.tui.messages import ConversationUpdate, EngineProgress, SessionFailed, SessionReady
from assistant.frontends.tui.percentiles import RollingPercentiles
from assistant.frontends.tui.session import Session, startup_notices
from assistant.frontends.tui.status_panel import StateBadge
from assistant.frontends.tui.timers_panel import TimersPanel
from tests.scripted import ScriptedLlm, ScriptedStt, ScriptedTts
from tests.util import MODELS_DIR, REPO, word_error_rate

SIZE = (120, 36)
QUESTION = "What is the capital of France?"


@pytest.fixture
def tui_config(config, tmp_path):
    """Embedded LLM and Piper (fast), a private metrics file, short timeouts."""
    return dataclasses.replace(
        config,
        llm=dataclasses.replace(config.llm, backend="embedded", first_token_timeout_s=2.0, token_timeout_s=2.0),
        tts=dataclasses.replace(config.tts, engine="piper"),
        conversation=dataclasses.replace(config.conversation, metrics_file=str(tmp_path / "turns.jsonl")))


@pytest.fixture
def silence(tmp_path):
    place([], total_s=60.0, path=tmp_path / "silence.wav")
    return tmp_path / "silence.wav"


async def until(pilot, condition, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        await pilot.pause(0.02)


def text_of(app, widget_type) -> list[str]:
    return [str(widget.render()) for widget in app.query(widget_type)]


# ---- driven by events: deterministic screens

INFO = (EngineInfo(EngineRole.LLM, "embedded SmolLM2-135M-Instruct.Q4_1", "backend = embedded"),
        EngineInfo(EngineRole.TTS, "Piper en_US-joe-medium", "configured"))


class StillSession(Session):
    """Reports ready and then nothing: the test posts the conversation's events itself."""

    async def run(self, report) -> None:
        report(SessionReady(INFO, Mode.ALWAYS_LISTENING, []))
        await asyncio.Event().wait()


def record(turn: int, *, outcome: str = "replied", barge_in_ms: float | None = None,
           **times: float | None) -> TurnRecord:
    """A finished turn's record; a stage given as None is left out."""
    stages = {"speech_start": 500.0, "speech_end": 2400.0, "end_of_turn": 2880.0, "stt_final": 3010.0,
              "llm_first_token": 3330.0, "first_tts_chunk": 3520.0, "first_audio": 3545.0, **times}
    return TurnRecord(turn, outcome=Outcome(outcome), interrupted=outcome == "interrupted", barge_in_ms=barge_in_ms,
                      times_ms={Stage(stage): ms for stage, ms in stages.items() if ms is not None})


ONE_TURN = [StateChanged(State.USER_SPEAKING), PartialTranscript("what is the capital"),
            StateChanged(State.THINKING), FinalTranscript("What is the capital of France?"),
            ReplyDelta("The capital of France "), ReplyDelta("is Paris."), StateChanged(State.SPEAKING),
            StateChanged(State.LISTENING), TurnFinished(record(1))]

SCREENS = {
    "listening": [*ONE_TURN, MicLevel(-24.0, 0.05)],
    "speaking": [*ONE_TURN, StateChanged(State.USER_SPEAKING), PartialTranscript("and what about"),
                 PartialTranscript("and what about Germany"), StateChanged(State.THINKING),
                 FinalTranscript("And what about Germany?"), ReplyDelta("Berlin is the capital of Germany, "),
                 ReplyDelta("and its largest city"), StateChanged(State.SPEAKING), MicLevel(-48.0, 0.02)],
    "interrupted": [*ONE_TURN, StateChanged(State.USER_SPEAKING), StateChanged(State.THINKING),
                    FinalTranscript("Tell me a long story."),
                    ReplyDelta("Once upon a time, a brave knight rode out to find a dragon, and the dragon "),
                    ReplyDelta("was asleep in its cave."), StateChanged(State.SPEAKING),
                    ReplyInterrupted("Once upon a time, a brave knight rode out", 62.0),
                    StateChanged(State.LISTENING), TurnFinished(record(2, outcome="interrupted", barge_in_ms=62.0)),
                    StateChanged(State.USER_SPEAKING), PartialTranscript("stop, what is"),
                    MicLevel(-12.0, 0.97)],
    "error": [*ONE_TURN, StateChanged(State.USER_SPEAKING), StateChanged(State.THINKING),
              FinalTranscript("Are you there?"), StateChanged(State.SPEAKING),
              Notice("the language model sent nothing for 23s"), StateChanged(State.LISTENING),
              TurnFinished(record(2, outcome="failed", llm_first_token=None))],
}


def still_app(tui_config) -> VoiceAssistantApp:
    return VoiceAssistantApp(StillSession(tui_config))


def post_all(messages):
    async def run_before(pilot) -> None:
        await pilot.pause()
        for message in messages:
            pilot.app.post_message(message)
        await pilot.pause(0.1)  # the level meter shows its peak on a 25 Hz timer

    return run_before


@pytest.mark.parametrize("screen", SCREENS)
def test_main_screen_snapshot(snap_compare, tui_config, screen):
    assert snap_compare(still_app(tui_config), terminal_size=SIZE,
                        run_before=post_all([ConversationUpdate(event) for event in SCREENS[screen]]))


def test_startup_snapshot(snap_compare, tui_config):
    class Loading(Session):
        async def run(self, report) -> None:
            await asyncio.Event().wait()

    progress = [EngineProgress(EngineInfo(EngineRole.VAD, "Silero")),
                EngineProgress(EngineInfo(EngineRole.STT, "Whisper tiny.en", "fast"))]
    assert snap_compare(VoiceAssistantApp(Loading(tui_config)), terminal_size=SIZE, run_before=post_all(progress))


def test_missing_models_snapshot(snap_compare, tui_config):
    error = ModelError("models/silero-vad/silero_vad.onnx is missing: run `voice-assistant models pull silero-vad`")
    assert snap_compare(still_app(tui_config), terminal_size=SIZE, run_before=post_all([SessionFailed(error)]))


# ---- the pane's bookkeeping, driven by events

def run_events(tui_config, events, check):
    async def run():
        app = still_app(tui_config)
        async with app.run_test(size=SIZE) as pilot:
            await post_all([ConversationUpdate(event) for event in events])(pilot)
            check(app)

    asyncio.run(run())


def test_speech_after_a_pause_reopens_the_same_turn_and_drops_the_unplayed_reply(tui_config):
    events = [StateChanged(State.USER_SPEAKING), PartialTranscript("what is"), StateChanged(State.THINKING),
              FinalTranscript("What is"), ReplyDelta("It is"),
              StateChanged(State.USER_SPEAKING), PartialTranscript("what is the capital of France"),
              StateChanged(State.THINKING), FinalTranscript("What is the capital of France?"), ReplyDelta("Paris."),
              StateChanged(State.SPEAKING), StateChanged(State.LISTENING), TurnFinished(record(1))]

    def check(app):
        assert text_of(app, UserLine) == ["you  What is the capital of France?"]
        assert text_of(app, ReplyLine) == ["assistant  Paris."]

    run_events(tui_config, events, check)


def test_a_turn_with_no_speech_leaves_no_line(tui_config):
    events = [StateChanged(State.USER_SPEAKING), StateChanged(State.THINKING), FinalTranscript(""),
              StateChanged(State.LISTENING), TurnFinished(record(1, outcome="no speech"))]

    def check(app):
        assert not app.query(UserLine) and not app.query(ReplyLine)
        assert app.query_one(LatencyPanel).record is None

    run_events(tui_config, events, check)


def test_typing_before_the_models_are_loaded_keeps_the_text(tui_config):
    class Loading(Session):
        async def run(self, report) -> None:
            await asyncio.Event().wait()

    notified = []

    async def run():
        app = VoiceAssistantApp(Loading(tui_config))
        app.notify = lambda message, **options: notified.append(message)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("t", *"hello", "enter")
            await pilot.pause()
            assert app.query_one(Input).value == "hello" and not app.query(UserLine)
            assert "still loading" in notified[0]

    asyncio.run(run())


# ---- small parts

def test_percentiles_are_nearest_rank():
    stats = RollingPercentiles(size=4)
    assert stats.percentile(50) is None
    for value in (900, 100, 500, 300, 700):  # the oldest (900) rolls out
        stats.add(value)
    assert len(stats) == 4 and stats.percentile(50) == 300 and stats.percentile(95) == 700


def test_ollama_fallback_is_a_startup_notice():
    def engines(name: str, why: str, fallback: str | None = None) -> Engines:
        return Engines(None, None, ScriptedLlm([]), ScriptedTts(),
                       (EngineInfo(EngineRole.LLM, name, why, fallback), EngineInfo(EngineRole.TTS, "Piper", "")))

    fallback = engines("embedded X", "auto: Ollama is not answering at http://127.0.0.1:11434",
                       "Ollama is not answering at http://127.0.0.1:11434")
    assert startup_notices(fallback) == ["Ollama is not answering at http://127.0.0.1:11434: using the embedded "
                                         "model (embedded X)"]
    assert startup_notices(engines("ollama x", "auto: Ollama answered at http://h")) == []
    assert startup_notices(engines("embedded X", "backend = embedded")) == []


def test_piper_standing_in_for_kokoro_is_a_startup_notice():
    why_not = "Kokoro would stutter here (real-time factor 1.10 with the LLM running, needs < 0.9)"
    engines = Engines(None, None, ScriptedLlm([]), ScriptedTts(),
                      (EngineInfo(EngineRole.LLM, "embedded X", "backend = embedded"),
                       EngineInfo(EngineRole.TTS, "Piper en_US-joe-medium", f"auto: {why_not}; Piper ≈ 570 ms",
                                  why_not)))
    assert startup_notices(engines) == [f"{why_not}: using Piper en_US-joe-medium"]


def test_only_answers_to_speech_count_in_voice_to_voice(tui_config):
    async def run():
        app = still_app(tui_config)
        async with app.run_test(size=SIZE) as pilot:
            panel = app.query_one(LatencyPanel)
            panel.add_turn(record(1))
            panel.add_turn(record(2, outcome="failed"))  # only the spoken "Sorry, …" was played
            panel.add_turn(record(3, outcome="interrupted", barge_in_ms=80.0))
            panel.add_turn(record(4, stt_final=None))  # typed
            panel.add_turn(TurnRecord(5, outcome=Outcome.NO_SPEECH, times_ms={Stage.SPEECH_START: 1.0}))  # left out
            await pilot.pause()
            assert len(panel.voice_to_voice) == 2 and len(panel.barge_in) == 1 and panel.record.turn == 4
            assert "turn 4 (typed)" in str(panel.render())

    asyncio.run(run())


def test_the_waterfall_says_how_the_end_of_the_turn_was_decided(tui_config):
    async def run():
        app = still_app(tui_config)
        async with app.run_test(size=SIZE) as pilot:
            panel = app.query_one(LatencyPanel)
            decision = TurnDecision("model", (0.31, 0.97), 96.0, (0.01, 0.86))
            panel.add_turn(dataclasses.replace(record(1), end_of_turn=decision))
            await pilot.pause()
            shown = str(panel.render())
            assert "the judges found it finished (sound 0.31, 0.97; words 0.01, 0.86; 96 ms)" in shown
            panel.add_turn(dataclasses.replace(record(2), end_of_turn=TurnDecision("pause limit", (0.2,), 90.0)))
            await pilot.pause()
            shown = str(panel.render())
            assert "the longest pause was over (sound 0.20; 90 ms)" in shown and "words" not in shown

    asyncio.run(run())


# ---- keys, on scripted engines with the real VAD and a WAV file as the microphone

def scripted_session(config, wav, stt=None, llm=None, tts=None) -> Session:
    async def load(config, ready):
        ready(EngineInfo(EngineRole.VAD, "Silero"))
        return Engines(load_vad(config), stt or ScriptedStt(), llm or ScriptedLlm([]), tts or ScriptedTts(),
                       (EngineInfo(EngineRole.LLM, "scripted", "backend = test"),
                        EngineInfo(EngineRole.TTS, "scripted tts", "test")))

    return Session(config, wav, load_engines=load, device_speaker=False)


def drive(session: Session, keys):
    """Run the app on `session` until it is listening, then `await keys(pilot, app)`; returns the app."""
    app = VoiceAssistantApp(session)

    async def run():
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.ready, what="the session")
            await keys(pilot, app)

    asyncio.run(run())
    return app


def badge(app) -> State | None:
    return app.query_one(StateBadge).state


def test_push_to_talk_mode_space_takes_a_turn_and_m_switches_back(tui_config, silence):
    llm = ScriptedLlm([["Hello to you too."]])

    async def keys(pilot, app):
        await pilot.press("m")
        await until(pilot, lambda: app.mode == "push-to-talk", what="push-to-talk mode")
        assert "push-to-talk" in text_of(app, "EngineSummary")[0]
        await pilot.press("space")
        await until(pilot, lambda: badge(app) == State.USER_SPEAKING, what="hearing you")
        assert app.query(UserLine).last().provisional  # dim and italic until transcribed
        await pilot.press("space")
        await until(pilot, lambda: app.query_one(LatencyPanel).record is not None, what="the turn's end")
        assert text_of(app, UserLine) == ["you  hello"]
        assert text_of(app, ReplyLine) == ["assistant  Hello to you too."]
        assert badge(app) == State.LISTENING
        await pilot.press("m")
        await until(pilot, lambda: app.mode == "always-listening", what="always-listening mode")

    drive(scripted_session(tui_config, silence, stt=ScriptedStt("hello"), llm=llm), keys)


def test_typed_message_is_answered_and_space_in_the_input_types_a_space(tui_config, silence):
    async def keys(pilot, app):
        await pilot.press("t")
        assert isinstance(app.focused, Input)
        await pilot.press(*"hi there")
        assert app.query_one(Input).value == "hi there" and badge(app) == State.LISTENING
        await pilot.press("enter")
        await until(pilot, lambda: text_of(app, ReplyLine) == ["assistant  Hi! How can I help?"], what="the reply")
        assert text_of(app, UserLine) == ["you  hi there"]
        assert not isinstance(app.focused, Input)  # back on the voice keys
        await until(pilot, lambda: badge(app) == State.LISTENING, what="listening")

    drive(scripted_session(tui_config, silence, llm=ScriptedLlm([["Hi! ", "How can I help?"]])), keys)


def test_space_stops_the_assistant_in_always_listening_mode(tui_config, silence):
    long_reply = ["This answer goes on and on, ", "long enough to still be talking when you stop it. " * 4]

    async def keys(pilot, app):
        app.session.submit_text("tell me everything")
        await until(pilot, lambda: badge(app) == State.SPEAKING, what="speaking")
        await pilot.pause(0.5)
        await pilot.press("space")
        await until(pilot, lambda: app.query(ReplyLine).last().interrupted, what="the cut")
        await until(pilot, lambda: badge(app) == State.LISTENING, what="listening")
        reply = app.query(ReplyLine).last()
        heard = reply.heard.split()
        assert 0 < len(heard) < len(reply.text.split()) and "interrupted" in str(reply.render())
        assert app.query_one(LatencyPanel).record.barge_in_ms is not None
        assert len(app.query(UserLine)) == 1  # the press opened no visible turn of its own

    drive(scripted_session(tui_config, silence, llm=ScriptedLlm([long_reply])), keys)


def test_ctrl_l_clears_the_pane_and_the_history(tui_config, silence):
    async def keys(pilot, app):
        app.session.submit_text("remember this")
        await until(pilot, lambda: app.query_one(LatencyPanel).record is not None, what="the reply")
        assert app.session.conversation.history.messages
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not app.query(UserLine) and not app.query(ReplyLine) and app.query("#hint")
        assert not app.session.conversation.history.messages

    drive(scripted_session(tui_config, silence), keys)


def test_command_palette_reaches_the_commands(tui_config, silence):
    async def command(pilot, title):
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*title)
        await pilot.pause(0.3)
        await pilot.press("enter")

    async def keys(pilot, app):
        await command(pilot, "switch mode")
        await until(pilot, lambda: app.mode == "push-to-talk", what="the mode switch")
        await command(pilot, "type a message")
        await until(pilot, lambda: isinstance(app.focused, Input), what="the input")

    drive(scripted_session(tui_config, silence), keys)


def test_q_quits_and_closes_the_session(tui_config, silence):
    async def keys(pilot, app):
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, what="the exit")

    app = drive(scripted_session(tui_config, silence), keys)
    assert app.session.conversation is None


def test_notices_show_inline(tui_config, silence):
    from assistant.core.ports import LlmError

    async def keys(pilot, app):
        app.session.submit_text("hello?")
        await until(pilot, lambda: app.query(NoticeLine), what="the notice")
        assert "out of memory" in text_of(app, NoticeLine)[0]
        await until(pilot, lambda: badge(app) == State.LISTENING, what="listening")

    drive(scripted_session(tui_config, silence, llm=ScriptedLlm([[LlmError("Ollama error: out of memory")]])), keys)


# ---- startup failures

def failing_app(config, **session) -> VoiceAssistantApp:
    return VoiceAssistantApp(Session(config, **session))


def run_until_error_screen(app) -> StartupErrorScreen:
    async def run():
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, StartupErrorScreen), what="the error screen")
            return app.screen

    return asyncio.run(run())


def test_missing_models_name_the_one_command(tui_config, tmp_path, silence):
    config = dataclasses.replace(tui_config, models=dataclasses.replace(tui_config.models, dir=str(tmp_path / "none")))
    screen = run_until_error_screen(failing_app(config, input_path=silence, device_speaker=False))
    assert screen.explanation.title == "Models missing" and screen.explanation.fix == "voice-assistant models pull"


def test_no_microphone_suggests_input(tui_config, monkeypatch):
    monkeypatch.setattr("assistant.audio.devices.list_devices", lambda: [])
    screen = run_until_error_screen(failing_app(tui_config))
    assert screen.explanation.title == "No microphone" and "--input" in screen.explanation.fix


# ---- the real engines

@pytest.fixture
def spoken_question(question_voice, tmp_path):
    place([(0.5, question_voice(QUESTION))], total_s=30.0, path=tmp_path / "question.wav")
    return tmp_path / "question.wav"


def test_real_engines_answer_a_spoken_question_and_ollama_fallback_is_noticed(tui_config, spoken_question):
    # backend = auto with nothing listening on the Ollama port: the embedded model stands in, and the UI says so
    llm = dataclasses.replace(tui_config.llm, backend="auto", ollama=dataclasses.replace(
        tui_config.llm.ollama, host="http://127.0.0.1:9", connect_timeout_s=0.3))
    session = Session(dataclasses.replace(tui_config, llm=llm), spoken_question, device_speaker=False)
    app = VoiceAssistantApp(session)

    async def run():
        async with app.run_test(size=SIZE) as pilot:
            started = time.monotonic()
            await until(pilot, lambda: app.ready, timeout=120, what="the engines")
            print(f"engines ready after {time.monotonic() - started:.1f} s")
            assert "5/5" in text_of(app, "StartupPanel")[0]  # VAD, STT, LLM, TTS and the end-of-turn model
            assert "Ollama is not answering" in text_of(app, NoticeLine)[0]
            await until(pilot, lambda: app.query_one(LatencyPanel).record is not None, timeout=60, what="the turn")
            (user,) = text_of(app, UserLine)
            assert word_error_rate(QUESTION, user.removeprefix("you  ")) <= 0.2, user
            (reply,) = app.query(ReplyLine)
            assert reply.text and not reply.interrupted
            latency = str(app.query_one(LatencyPanel).render())
            assert "first audio" in latency and "voice-to-voice" in latency

    asyncio.run(run())


# ---- the console script, in a real terminal

def test_console_script_in_tmux_shows_the_transcript_and_latency(tmp_path, spoken_question):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\ndir = "{MODELS_DIR}"\n'
                      f'[conversation]\nmetrics_file = "{tmp_path / "turns.jsonl"}"\n'
                      '[llm]\nbackend = "embedded"\n[tts]\nengine = "piper"\n')
    socket = f"va-test-{uuid.uuid4().hex[:8]}"  # a private tmux server: nothing of the user's is touched
    tmux = ["tmux", "-L", socket]
    command = shlex.join([sys.executable, "-m", "assistant", "--config", str(config), "--input", str(spoken_question)])
    # pytest exports COLUMNS/LINES, and Textual would take those over the terminal's real size
    terminal_env = {name: value for name, value in os.environ.items() if name not in ("COLUMNS", "LINES")}
    subprocess.run([*tmux, "new-session", "-d", "-x", "120", "-y", "36", "-c", str(REPO),
                    f"{command}; echo exit-status-$?; sleep 60"], check=True, env=terminal_env)
    try:
        screen = wait_for_screen(tmux, lambda s: "voice-to-voice" in s and "p95" in s, timeout=120)
        assert "you  What is the capital of France" in screen, screen
        assert "assistant  " in screen and "first audio" in screen and "LISTENING" in screen
        subprocess.run([*tmux, "send-keys", "q"], check=True)
        wait_for_screen(tmux, lambda s: "exit-status-0" in s, timeout=30)
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)


def wait_for_screen(tmux, condition, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        screen = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True).stdout
        if condition(screen):
            return screen
        assert time.monotonic() < deadline, f"the screen never got there:\n{screen}"
        time.sleep(0.25)


def test_a_timer_set_by_a_typed_request_counts_down_in_the_timers_panel(tui_config, silence, tmp_path):
    config = dataclasses.replace(tui_config, tools=dataclasses.replace(tui_config.tools,
                                                                       state_file=str(tmp_path / "timers.json")))

    async def keys(pilot, app):
        panel = app.query_one(TimersPanel)
        assert not panel.display
        await pilot.press("t", *"set a tea timer for 5 minutes", "enter")
        await until(pilot, lambda: text_of(app, ReplyLine) == ["assistant  Tea timer set for 5 minutes."],
                    what="the reply")
        await until(pilot, lambda: panel.display and str(panel.render()) in ("tea timer  5:00", "tea timer  4:59"),
                    what="the countdown")

    drive(scripted_session(config, silence), keys)
