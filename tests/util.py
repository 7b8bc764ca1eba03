"""Shared test constants: paths and the reference transcript of the test speech."""

from __future__ import annotations

from pathlib import Path

from assistant.bench.wer import word_error_rate
from assistant.paths import resolve_models_dir

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"  # every file a test reads is in the repository
# Where the README's `voice-assistant models pull` put the models (the user's data folder, or a clone's models/).
MODELS_DIR = resolve_models_dir("")
FIRST_QUESTION_S, QUESTION_GAP_S = 0.3, 7.7  # where the `questions` fixture puts its questions
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, "
            "ask what you can do for your country.")



def flip_byte(path: Path, offset: int = 1000) -> None:
    """Corrupt a file in place without changing its size."""
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def isolated_config(tmp_path: Path, models_dir: Path = MODELS_DIR, **tables: str) -> Path:
    """Config for a CLI run: the pulled models, metrics in tmp, the embedded LLM (no Ollama here).

    Each keyword adds lines to a table, e.g. `tts='engine = "piper"'` or `llm="max_tokens = 8"`.
    """
    lines = {"models": [f'dir = "{models_dir}"'], "conversation": [f'metrics_file = "{tmp_path / "turns.jsonl"}"'],
             "llm": ['backend = "embedded"']}
    for name, text in tables.items():
        lines.setdefault(name, []).append(text)
    path = tmp_path / "config.toml"
    path.write_text("".join(f"[{name}]\n" + "\n".join(body) + "\n" for name, body in lines.items()), encoding="utf-8")
    return path


__all__ = ["FIRST_QUESTION_S", "JFK_TEXT", "MODELS_DIR", "QUESTION_GAP_S", "REPO", "TEST_DATA", "flip_byte",
           "isolated_config", "word_error_rate"]
