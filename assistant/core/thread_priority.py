"""Thread priorities: on a busy machine the audio path (event loop, VAD, echo canceller, the sound devices'
threads) runs ahead of the models (STT, LLM, TTS), so interruptions and the microphone keep working; the end-of-turn
judges come last, so that at a pause the reply's transcript, LLM and voice, which start there too, go first.

Linux nice values are per thread, and a thread starts with the nice value of the thread that created it: the
native threads a model library starts (ONNX Runtime, OpenMP, llama.cpp pools) and PortAudio's callback thread
follow the thread that loads the model or starts the stream. Raising a priority (a negative nice) needs
CAP_SYS_NICE or a raised RLIMIT_NICE; without it the audio path stays at normal priority (said once in the log).
The settings are added to the process's own nice value (as started, e.g. under `nice -n 5`). Elsewhere than
Linux nothing is changed.
"""

from __future__ import annotations

import enum
import logging
import os
import sys
import threading

from assistant.config import PriorityConfig

log = logging.getLogger(__name__)


class Role(enum.Enum):
    AUDIO = "audio"  # must keep up with real time: the event loop, VAD, echo canceller, sound device threads
    MODEL = "model"  # CPU-heavy and allowed to wait: STT, LLM, TTS, and the threads that load them
    JUDGE = "judge"  # the end-of-turn judges: they run at the very pause the reply's chain starts at, and need only
    # answer before its first chunk is ready, so they take the CPU the chain leaves


NICE_RANGE = (-20, 19)
PROCESS_NICE = os.getpriority(os.PRIO_PROCESS, 0) if sys.platform == "linux" else 0  # the process's, before any change
_wanted: dict[Role, int] = {}
_refused: set[Role] = set()


def configure(config: PriorityConfig) -> None:
    """The nice value each role's threads take from now on (threads already running keep theirs)."""
    for role, offset in ((Role.AUDIO, config.audio_nice), (Role.MODEL, config.model_nice),
                         (Role.JUDGE, config.judge_nice)):
        _wanted[role] = min(max(PROCESS_NICE + offset, NICE_RANGE[0]), NICE_RANGE[1])


def apply(role: Role | None) -> bool:
    """Give the calling thread its role's nice value; False where not permitted (or not Linux, or no role)."""
    if role is None or role not in _wanted or sys.platform != "linux":
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _wanted[role])
    except OSError as error:
        if role not in _refused:
            _refused.add(role)
            log.info("the %s threads keep their priority (nice %d not permitted: %s)", role.value, _wanted[role],
                     error.strerror)
        return False
    return True


def thread_nice(native_id: int | None = None) -> int:
    """The nice value of a thread of this process (default: the calling one)."""
    return os.getpriority(os.PRIO_PROCESS, native_id or threading.get_native_id())
