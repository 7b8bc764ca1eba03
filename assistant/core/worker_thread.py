"""One single-thread executor per engine (and for other blocking work that must stay in order).

Every model call runs through `EngineThread.run`, so the event loop never blocks on CPU work, and two
calls of one engine never overlap (ONNX Runtime, CTranslate2 and llama.cpp release the GIL, so
engines on different threads do run in parallel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from assistant.core import thread_priority
from assistant.core.thread_priority import Role

P = ParamSpec("P")
R = TypeVar("R")


class EngineThread:
    def __init__(self, name: str, role: Role | None = None) -> None:
        """`role`: the thread takes its priority (and so do the native threads started from it)."""
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=thread_priority.apply,
                                        initargs=(role,))

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
