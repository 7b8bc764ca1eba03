"""The TUI app: lays out the panes, routes the session's messages to them, and maps keys to session controls."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import ClassVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from assistant.core.events import (
    Announced,
    FinalTranscript,
    MicLevel,
    ModeChanged,
    Notice,
    PartialTranscript,
    ReplyDelta,
    ReplyInterrupted,
    State,
    StateChanged,
    TurnFinished,
)
from assistant.core.types import PUSH_TO_TALK
from assistant.frontends.tui.conversation_pane import ConversationPane
from assistant.frontends.tui.error_screen import StartupErrorScreen
from assistant.frontends.tui.latency_panel import LatencyPanel
from assistant.frontends.tui.level_meter import LevelMeter
from assistant.frontends.tui.messages import ConversationUpdate, EngineProgress, SessionFailed, SessionReady
from assistant.frontends.tui.session import Session
from assistant.frontends.tui.startup_panel import StartupPanel, engine_count
from assistant.frontends.tui.status_panel import StatusPanel
from assistant.frontends.tui.timers_panel import TimersPanel

SHUTDOWN_TIMEOUT_S = 10.0


class VoiceAssistantApp(App):
    TITLE = "voice-assistant"
    SUB_TITLE = "local · offline"

    CSS = """
    #main { height: 1fr; }
    #chat { width: 1fr; }
    #message { margin: 0 1 0 0; }
    #side { width: 42%; max-width: 50; min-width: 34; padding: 0 1 0 0; overflow-y: auto; }
    #side > * { border: round $primary 50%; border-title-color: $primary; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # space is one key with two meanings; check_action shows the one that fits the mode
        Binding("space", "push_to_talk", "Talk / done"),
        Binding("space", "stop", "Stop speaking"),
        Binding("m", "toggle_mode", "Mode"),
        Binding("t", "type", "Type"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("q", "quit", "Quit"),
        Binding("escape", "leave_input", "Voice keys", show=False),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.ready = False
        self.mode = session.config.audio.mode
        self.state: State | None = None
        self._session_worker: Worker | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield StartupPanel(engine_count(self.session.config))
                yield ConversationPane()
                yield Input(placeholder="Type a message and press Enter   (t: type · esc: voice keys)", id="message")
            with Vertical(id="side"):
                yield StatusPanel()
                yield LevelMeter(self.session.config.vad.start_threshold)
                yield LatencyPanel()
                yield TimersPanel()
        yield Footer()

    def on_mount(self) -> None:
        for widget, title in ((StatusPanel, "status"), (LevelMeter, "microphone"), (LatencyPanel, "latency"),
                              (TimersPanel, "timers")):
            self.query_one(widget).border_title = title
        self.query_one(StatusPanel).show_mode(self.mode)
        self.query_one(StatusPanel).show_echo(self.session.config.audio.echo_cancellation)
        self._pane = self.query_one(ConversationPane)
        self._meter = self.query_one(LevelMeter)
        self._pane.focus()
        self._session_worker = self.run_worker(self.session.run(self.post_message), name="session", exclusive=True)

    # ---- messages up from the session

    def on_engine_progress(self, message: EngineProgress) -> None:
        self.query_one(StartupPanel).progress(message.engine)

    def on_session_ready(self, message: SessionReady) -> None:
        self.ready, self.mode, self.state = True, message.mode, State.LISTENING
        self.query_one(StartupPanel).done()
        status = self.query_one(StatusPanel)
        status.show_engines(message.engines)
        status.show_mode(message.mode)
        status.show_state(State.LISTENING)
        for notice in message.notices:
            self._pane.notice(notice)
        conversation = self.session.conversation
        if conversation is not None and conversation.toolbox is not None:
            self.query_one(TimersPanel).follow(conversation.toolbox.countdowns)
        self.refresh_bindings()

    def on_session_failed(self, message: SessionFailed) -> None:
        self.ready = False
        self.push_screen(StartupErrorScreen(message.error))

    def on_conversation_update(self, message: ConversationUpdate) -> None:
        event, pane = message.event, self._pane
        if isinstance(event, MicLevel):
            self._meter.show(event.dbfs, event.speech_probability)
        elif isinstance(event, StateChanged):
            self.state = event.state
            self.query_one(StatusPanel).show_state(event.state)
            pane.state_changed(event.state)
            self.refresh_bindings()
        elif isinstance(event, ModeChanged):
            self.mode = event.mode
            self.query_one(StatusPanel).show_mode(event.mode)
            self.refresh_bindings()
        elif isinstance(event, PartialTranscript):
            pane.partial(event.text)
        elif isinstance(event, FinalTranscript):
            pane.final(event.text)
        elif isinstance(event, ReplyDelta):
            pane.reply_delta(event.text)
        elif isinstance(event, ReplyInterrupted):
            pane.interrupted(event.heard, event.barge_in_ms)
        elif isinstance(event, Notice):
            pane.notice(event.message)
        elif isinstance(event, Announced):
            pane.notice(f"⏰ {event.text}")
        elif isinstance(event, TurnFinished):
            pane.turn_finished(event.record)
            self.query_one(LatencyPanel).add_turn(event.record)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        event.input.clear()
        if not self.session.submit_text(text):
            self.notify("The models are still loading; send it again in a moment.", severity="warning")
            event.input.value = text
            return
        self._pane.focus()  # back to the voice keys: space now stops the spoken reply

    # ---- keys and commands, down to the session

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(self.screen, StartupErrorScreen):
            return action == "quit"
        push_to_talk = self.mode == PUSH_TO_TALK
        if action == "push_to_talk":
            return push_to_talk and (self.ready or None)
        if action == "stop":
            return not push_to_talk and (self.state == State.SPEAKING or None)
        if action == "toggle_mode":
            return self.ready or None
        return True

    def action_push_to_talk(self) -> None:
        self.session.push_to_talk()

    def action_stop(self) -> None:
        self.session.stop_speaking()

    def action_toggle_mode(self) -> None:
        self.session.switch_mode()

    def action_type(self) -> None:
        self.query_one("#message", Input).focus()

    def action_leave_input(self) -> None:
        self._pane.focus()

    def action_clear(self) -> None:
        self._pane.clear()
        self.session.clear_history()

    async def action_quit(self) -> None:
        """Stop the conversation and close the engines first: their threads must not outlive the app."""
        if self._session_worker is not None:
            self._session_worker.cancel()
            with contextlib.suppress(WorkerCancelled, WorkerFailed, TimeoutError):
                async with asyncio.timeout(SHUTDOWN_TIMEOUT_S):
                    await self._session_worker.wait()
        self.exit()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Push to talk", "Start your turn, or end it (push-to-talk mode)", self.action_push_to_talk)
        yield SystemCommand("Stop speaking", "Cut the assistant off while it talks", self.action_stop)
        yield SystemCommand("Switch mode", "Between always-listening and push-to-talk", self.action_toggle_mode)
        yield SystemCommand("Type a message", "Answered aloud, like a spoken one", self.action_type)
        yield SystemCommand("Clear the conversation", "Empty this pane and the assistant's memory",
                            self.action_clear)
