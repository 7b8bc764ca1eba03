import subprocess
import sys

import pytest

from assistant.config import Config, load_config, render_toml, user_config_path
from assistant.errors import ConfigError
from tests.util import REPO


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_documented_config_toml_is_exactly_the_defaults():
    assert (REPO / "config.toml").read_text(encoding="utf-8") == render_toml()
    assert load_config(REPO / "config.toml") == Config()


def test_every_setting_has_a_comment():
    lines = render_toml().splitlines()
    for i, line in enumerate(lines):
        if " = " in line and not line.startswith("#"):
            assert lines[i - 1].startswith("# "), line


def test_values_override_defaults(tmp_path):
    config = load_config(write(tmp_path, '[stt]\nmethod = "reference"\n[llm]\ntoken_timeout_s = 3\n'))
    assert config.stt.method == "reference"
    assert config.llm.token_timeout_s == 3.0
    assert config.tts == Config().tts


def test_lookup_order_user_dir_then_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_config() == Config()  # no user file: packaged defaults
    user_config_path().parent.mkdir(parents=True)
    user_config_path().write_text("[vad]\nhangover_ms = 600\n", encoding="utf-8")
    assert load_config().vad.hangover_ms == 600
    explicit = write(tmp_path, "[vad]\nhangover_ms = 700\n")
    assert load_config(explicit).vad.hangover_ms == 700  # --config wins


@pytest.mark.parametrize(("text", "expected"), [
    ("[stt\nmodel = 1", "invalid TOML"),
    ("[stt]\nmodle = 'tiny.en'\n", "unknown key 'stt.modle'"),
    ("[sttt]\n", "unknown key 'sttt'"),
    ("[vad]\nhangover_ms = 'long'\n", "'vad.hangover_ms' must be an integer, got a string 'long'"),
    ("[vad]\nhangover_ms = 1.5\n", "'vad.hangover_ms' must be an integer"),
    ("[stt]\nbeam_size = true\n", "'stt.beam_size' must be an integer, got a boolean"),
    ("[vad]\nstart_threshold = 1.5\n", "'vad.start_threshold' must be between 0.05 and 0.99, got 1.5"),
    ("[tts]\nengine = 'espeak'\n", "'tts.engine' must be one of 'auto', 'kokoro', 'piper', got 'espeak'"),
    ("stt = 3\n", "'stt' must be a table [stt], got an integer"),
    ("[llm]\nollama = 'x'\n", "'llm.ollama' must be a table"),
])
def test_bad_config_names_file_key_and_expectation(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and expected in message and "\n" not in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_cli_prints_one_line_and_exits_2(tmp_path):
    path = write(tmp_path, "[vad]\nhangover_ms = -5\n")
    result = subprocess.run([sys.executable, "-m", "assistant", "--config", str(path), "models", "status"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert "'vad.hangover_ms' must be between 32 and 5000" in result.stderr
