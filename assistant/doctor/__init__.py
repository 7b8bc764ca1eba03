"""`voice-assistant doctor`: one screen a user can paste into an issue. Versions, CPU, sound devices and the mic's
level, models, Ollama, what `auto` picks and why, and each engine's measured speed. Exit status 0 when the assistant
can run, 2 (with the fix) when it cannot."""

from __future__ import annotations

import asyncio
from pathlib import Path

from assistant.config import Config, user_config_path
from assistant.doctor import engines, system
from assistant.doctor.report import Report


def run_doctor(config: Config, config_path: str | None, remeasure: bool = False) -> int:
    report = Report()
    print("voice-assistant doctor (paste all of this into an issue)\n", flush=True)
    system.check_versions(report)
    system.check_cpu(report)
    path = Path(config_path) if config_path else user_config_path()
    report.line("config", str(path) if path.is_file() else f"built-in defaults ({path} does not exist)")
    microphone = system.check_sound(report, config)
    if microphone is not False:
        system.check_microphone(report, microphone)
    system.check_echo(report, config)
    models_ok = engines.check_models(report, config)
    asyncio.run(engines.check_ollama(report, config))
    if models_ok:
        asyncio.run(engines.check_engines(report, config, remeasure))
    else:
        report.line("speed", "not measured: the engines need their models first")
    return report.verdict()
