"""A stop token that reaches into a running inference."""

from __future__ import annotations

import threading

import onnxruntime as ort


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
