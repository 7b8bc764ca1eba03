"""A daemon thread for PortAudio calls that can block: open, start, abort, close.

They normally take a millisecond, but a sound server that died or hangs can keep them waiting for ever. On this
thread the event loop never waits on them, calls stay in the order they were made, and one that never returns is
abandoned after a timeout instead of holding up the session or the exit (a daemon thread is not joined at exit,
unlike the default executor's workers).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from assistant.core import thread_priority
from assistant.core.thread_priority import Role

R = TypeVar("R")
log = logging.getLogger(__name__)


class ControlThread:
    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        thread_priority.apply(Role.AUDIO)  # PortAudio's callback threads start from here: they take it too
        while (item := self._calls.get()) is not None:
            call, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as error:  # handed to whoever waits for it
                future.set_exception(error)

    def submit(self, call: Callable[[], R]) -> Future[R]:
        """Run `call` after every call submitted before it; do not wait."""
        future: Future[R] = Future()
        self._calls.put((call, future))  # type: ignore[arg-type]
        return future

    async def run(self, call: Callable[[], R], timeout: float, what: str) -> R | None:
        """Run `call` and wait for it, at most `timeout` seconds: past that it is abandoned (logged) and None."""
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.wrap_future(self.submit(call))
        except TimeoutError:
            log.warning("%s did not return within %g s: abandoned (is the sound server hanging?)", what, timeout)
            return None

    def close(self) -> None:
        """The thread ends after the calls already submitted (or never, if one of them hangs: it is a daemon)."""
        self._calls.put(None)
