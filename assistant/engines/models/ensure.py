"""Before a command loads its engines: the models it needs, and an offer to pull the missing ones on a terminal
(`--yes` for scripts) instead of an error once the engines load."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from assistant.config import Config
from assistant.engines.models.pulling import pull
from assistant.engines.models.registry import REGISTRY, get
from assistant.engines.models.report import human
from assistant.engines.models.spec import ModelSpec
from assistant.engines.models.verify import check
from assistant.engines.turn_words import MODEL as WORDS_MODEL
from assistant.errors import ModelError

PARTS = ("vad", "stt", "llm", "tts", "turn")


def needed(config: Config, parts: Iterable[str] = PARTS) -> list[str]:
    """The registry models the configured engines load; a model given as a path is not the registry's to fetch."""
    wanted = set(parts)
    names = ["silero-vad"] if wanted & {"vad", "stt"} else []  # the STT trims silence with the VAD
    if "turn" in wanted and config.turn.end_of_turn == "smart":
        names.append("smart-turn")
        if config.turn.words:
            names.append(WORDS_MODEL)
    if "stt" in wanted:
        names.append(config.stt.model)
    if "llm" in wanted and config.llm.backend != "ollama":  # `auto` falls back to the embedded model
        names.append(config.llm.embedded.model)
    if "tts" in wanted:
        if config.tts.engine in ("auto", "kokoro"):
            names += ["kokoro", "kokoro-voices"]
        if config.tts.engine in ("auto", "piper"):
            names.append(config.tts.piper.voice)
    return [name for name in dict.fromkeys(names) if name in REGISTRY]


def problems(config: Config, parts: Iterable[str] = PARTS) -> list[tuple[ModelSpec, Path, str]]:
    """Each needed model with a file missing or corrupt: its first such file and what is wrong with it (a stat per
    stamped file; new files are hashed)."""
    found = []
    for spec in map(get, needed(config, parts)):
        folder = config.models_dir / spec.folder
        bad = [(folder / file.name, problem) for file, problem in check(spec, folder) if problem]
        if bad:
            found.append((spec, *bad[0]))
    return found


def ensure(config: Config, parts: Iterable[str] = PARTS, *, assume_yes: bool = False,
           interactive: bool | None = None) -> None:
    """Return once the needed models are verified: pull them with `assume_yes`, or after asking on a terminal;
    otherwise a one-line ModelError saying how."""
    found = problems(config, parts)
    if not found:
        return
    folder, names = config.models_dir, [spec.name for spec, _, _ in found]
    listed = f"{', '.join(names)} ({human(sum(spec.size for spec, _, _ in found))})"
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not assume_yes and not interactive:
        damaged = [(spec, path, problem) for spec, path, problem in found if problem != "missing"]
        if damaged:  # the same words as an engine's check at load: the file and what is wrong with it
            spec, path, problem = damaged[0]
            raise ModelError(f"{path} is {problem}: run `voice-assistant models pull {spec.name}`")
        raise ModelError(f"models not in {folder}/: {listed}: run `voice-assistant models pull`, or pass --yes")
    if not assume_yes and not _agree(f"Models missing or damaged: {listed}. Download them into {folder}/ now? "
                                     "[Y/n] "):
        raise ModelError(f"models not in {folder}/: {', '.join(names)}: run `voice-assistant models pull`")
    if pull(Path(folder), names) != 0:
        raise ModelError(f"could not pull {', '.join(names)} (reasons above): check the network, then run "
                         "`voice-assistant models pull`")


def _agree(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("", "y", "yes")
