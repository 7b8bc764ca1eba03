"""One single-thread executor per engine, and a stop token that reaches into a running inference.

Every model call runs through `EngineThread.run`, so the event loop never blocks on CPU work, and two
calls of one engine never overlap (ONNX Runtime, CTranslate2 and llama.cpp release the GIL, so
engines on different threads do run in parallel).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import onnxruntime as ort

P = ParamSpec("P")
R = TypeVar("R")


class EngineThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class StopToken:
    """Asks one piece of engine work to stop: checked between steps, and wired into ONNX Runtime.

    Setting `RunOptions.terminate` from another thread makes a running `session.run` return
    within a few milliseconds, and every later run with the same options fails at once.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self.run_options = ort.RunOptions()

    def stop(self) -> None:
        self._event.set()
        self.run_options.terminate = True

    @property
    def stopped(self) -> bool:
        return self._event.is_set()
