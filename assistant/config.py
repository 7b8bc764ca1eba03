"""`config.toml` → frozen dataclasses, validated with errors that name the file, the key and what was expected.

The dataclass defaults below are the packaged defaults; the documented top-level `config.toml` is rendered
from them (`voice-assistant config`), so the two can never disagree.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.core.types import MODES
from assistant.errors import ConfigError
from assistant.paths import resolve_models_dir


def setting(default: Any, doc: str, *, min: float | None = None, max: float | None = None,
            choices: tuple[str, ...] | None = None) -> Any:
    """A config value: its default, a one-line comment, and the range or choices it accepts."""
    return field(default=default, metadata={"doc": doc, "min": min, "max": max, "choices": choices})


def section(cls: type, doc: str) -> Any:
    return field(default_factory=cls, metadata={"doc": doc})


@dataclass(frozen=True)
class ModelsConfig:
    dir: str = setting("", "where model files live (\"\" = $VOICE_ASSISTANT_MODELS_DIR, else a clone's filled "
                           "models/, else ~/.local/share/voice-assistant/models); relative to the working directory")


@dataclass(frozen=True)
class VadConfig:
    start_threshold: float = setting(0.5, "speech probability that starts speech", min=0.05, max=0.99)
    end_threshold: float = setting(0.35, "probability below which a frame counts as silence", min=0.01, max=0.99)
    min_speech_ms: int = setting(96, "voiced time needed before speech is reported (filters clicks)",
                                 min=0, max=2000)
    hangover_ms: int = setting(480, "silence after speech before the speech is declared over", min=32, max=5000)
    threads: int = setting(1, "ONNX Runtime threads for the VAD", min=1, max=16)
    skip_quiet_frames: bool = setting(True, "do not run the model on frames at the room's noise floor (most of the "
                                      "idle CPU; they cannot start speech)")


@dataclass(frozen=True)
class SttConfig:
    model: str = setting("tiny.en", "Whisper model: a name from `voice-assistant models status` or a folder path")
    method: str = setting("fast", "fast = encode only the utterance; reference = plain faster-whisper (30 s window)",
                          choices=("fast", "reference"))
    language: str = setting("en", "spoken language (ignored by .en models)")
    beam_size: int = setting(1, "beam search width (1 = greedy, fastest)", min=1, max=10)
    threads: int = setting(1, "CTranslate2 CPU threads (for tiny.en one is faster than two: a turn's few seconds "
                                     "are too little work to share)", min=1, max=64)


@dataclass(frozen=True)
class OllamaConfig:
    host: str = setting("http://127.0.0.1:11434", "Ollama server URL")
    model: str = setting("llama3.2:1b", "Ollama model tag (`ollama pull <model>` first)")
    connect_timeout_s: float = setting(2.0, "seconds to wait for the server to accept the request", min=0.1, max=60)
    load_timeout_s: float = setting(120.0, "seconds Ollama may take to load the model at start (a big model's first "
                                    "load from disk)", min=1, max=3600)


@dataclass(frozen=True)
class EmbeddedLlmConfig:
    model: str = setting("smollm2-135m-instruct", "GGUF model: a name from `voice-assistant models status` or a path")
    threads: int = setting(1, "llama.cpp threads (1 leaves the other core to speech)", min=1, max=64)
    context_tokens: int = setting(2048, "context window in tokens", min=256, max=131072)
    yield_to_speech: bool = setting(True, "pause between tokens while speech is synthesised (on few cores the voice "
                                          "gets them first)")


@dataclass(frozen=True)
class LlmConfig:
    backend: str = setting("auto", "auto = Ollama if it answers, else the embedded model",
                           choices=("auto", "ollama", "embedded"))
    system_prompt: str = setting(
        "You are a friendly voice assistant. Answer in one or two short spoken sentences. "
        "Use plain words: no lists, no markdown, no emoji.",
        "instructions given to the model before every conversation")
    max_tokens: int = setting(120, "longest reply in tokens", min=1, max=8192)
    temperature: float = setting(0.6, "sampling temperature", min=0.0, max=2.0)
    first_token_timeout_s: float = setting(20.0, "seconds to wait for the first token (any backend)", min=0.5, max=600)
    token_timeout_s: float = setting(10.0, "seconds to wait between tokens (any backend)", min=0.5, max=600)
    ollama: OllamaConfig = section(OllamaConfig, "Ollama backend")
    embedded: EmbeddedLlmConfig = section(EmbeddedLlmConfig, "embedded llama.cpp backend")


@dataclass(frozen=True)
class KokoroConfig:
    voice: str = setting("af_heart", "Kokoro voice (af_heart, af_bella, am_michael, am_adam, bf_emma, bm_george)")
    speed: float = setting(1.0, "speaking rate", min=0.5, max=2.0)
    lang: str = setting("en-us", "phonemizer language", choices=("en-us", "en-gb"))
    threads: int = setting(2, "ONNX Runtime threads", min=1, max=64)


@dataclass(frozen=True)
class PiperConfig:
    voice: str = setting("en_US-joe-medium", "Piper voice model name")
    speed: float = setting(1.0, "speaking rate", min=0.5, max=2.0)
    threads: int = setting(1, "ONNX Runtime threads", min=1, max=64)


@dataclass(frozen=True)
class TtsConfig:
    engine: str = setting("auto", "auto = Kokoro if it answers within max_first_audio_ms and without stutter here "
                                  "(measured once, `doctor --remeasure`), else Piper",
                          choices=("auto", "kokoro", "piper"))
    max_first_audio_ms: float = setting(900.0, "auto picks Kokoro only if its predicted voice-to-voice time (end of "
                                               "speech to first audio) is within this", min=100, max=10000)
    kokoro: KokoroConfig = section(KokoroConfig, "Kokoro-82M (quality)")
    piper: PiperConfig = section(PiperConfig, "Piper (fast)")


@dataclass(frozen=True)
class AudioConfig:
    input_device: str = setting("", "microphone: \"\" = system default, an index or part of a name "
                                    "(`voice-assistant devices`)")
    output_device: str = setting("", "speaker: \"\" = system default, an index or part of a name")
    output_sample_rate: int = setting(24000, "speaker sample rate; TTS audio is resampled to it", min=8000, max=192000)
    mode: str = setting("always-listening", "always-listening (the VAD takes turns) or push-to-talk",
                        choices=MODES)
    echo_cancellation: bool = setting(True, "take the assistant's own voice out of the microphone (WebRTC AEC3), "
                                      "so it can listen on laptop speakers; false with headphones")


@dataclass(frozen=True)
class ConversationConfig:
    partial_interval_ms: int = setting(400, "how often to refresh the live transcript while the user speaks",
                                       min=100, max=10000)
    preroll_ms: int = setting(200, "audio kept from before the detected speech onset", min=0, max=2000)
    speculative_end_of_turn: bool = setting(True, "start transcribing and thinking at the first quiet frame; the "
                                            "reply plays only once the end of the turn is confirmed")
    max_audio_ahead_s: float = setting(4.0, "synthesized audio allowed to wait for the speaker (backpressure)",
                                       min=0.5, max=60)
    history_budget_chars: int = setting(4000, "conversation kept for the LLM; oldest turns dropped first",
                                        min=200, max=200000)
    stt_timeout_s: float = setting(10.0, "longest wait for a final transcript", min=0.5, max=120)
    tts_timeout_s: float = setting(15.0, "longest wait for one chunk of speech", min=0.5, max=120)
    metrics_file: str = setting("turns.jsonl", "the turn log of `listen` and the TUI, one JSON line per turn: "
                                "transcript, reply, latency (a bare name lives in the state folder; \"\" = off)")
    metrics_max_mb: float = setting(10.0, "the turn log is moved aside to NAME.1 past this size (one previous file "
                                    "kept)", min=0.01, max=100000)


@dataclass(frozen=True)
class TurnConfig:
    end_of_turn: str = setting("smart", "how the end of a spoken turn is decided: \"smart\" asks the Smart Turn model "
                               "whether the words sound finished; \"silence\" waits [vad] hangover_ms",
                               choices=("smart", "silence"))
    check_after_ms: int = setting(160, "silence before the model is asked whether the turn is finished",
                                  min=32, max=2000)
    complete_threshold: float = setting(0.5, "model probability at or above which the turn counts as finished",
                                        min=0.01, max=0.99)
    max_pause_ms: int = setting(1200, "longest pause waited out when the words sound unfinished", min=100,
                                max=5000)
    timeout_ms: int = setting(400, "longest wait for the model's answer; past it the turn ends by silence alone",
                              min=50, max=5000)
    threads: int = setting(1, "ONNX Runtime threads for the end-of-turn model", min=1, max=16)
    words: bool = setting(True, "also read the transcript: a small language model judges whether the words are "
                          "finished (\"what is the capital\" is not, however it sounds)")
    words_unfinished_below: float = setting(0.02, "words scored below this wait out the pause, however finished "
                                            "they sound", min=0.0, max=1.0)
    words_finished_at: float = setting(0.5, "words scored at or above this end the turn, however unfinished they "
                                       "sound", min=0.0, max=1.0)


@dataclass(frozen=True)
class BargeInConfig:
    enabled: bool = setting(True, "stop talking when the user starts speaking")
    pause_threshold: float = setting(0.15, "speech probability that pauses the reply at once, before it is sure",
                                     min=0.01, max=0.99)
    # AEC3 lets 1–2 voiced frames (32–64 ms) of the reply's echo through at a sentence's onset in a reverberant room
    # (measured on the kitchen room); the reply is already paused at the first hint, so a surer confirmation costs
    # nothing the user hears
    min_speech_ms: int = setting(128, "voiced time that confirms an interruption (higher = fewer false cuts)",
                                 min=0, max=1000)
    resume_after_ms: int = setting(320, "an unconfirmed pause resumes the reply after this much quiet",
                                   min=32, max=5000)


@dataclass(frozen=True)
class ToolsConfig:
    enabled: bool = setting(True, "let the assistant use tools: the time and date, timers and alarms")
    disabled: str = setting("", "tools to leave out, comma-separated (e.g. \"set_alarm, cancel_timer\")")
    timeout_s: float = setting(5.0, "longest a tool call may run before it fails", min=0.1, max=600)
    filler_after_s: float = setting(1.0, "a tool still running after this long gets a spoken \"One moment.\"",
                                    min=0.0, max=60)
    intents: str = setting("auto", "answer time, timer and alarm requests without the model: auto = when the "
                                   "model cannot call tools (the embedded one)", choices=("auto", "always", "off"))
    timezone: str = setting("", "time zone of the clock tools (an IANA name; \"\" = the system's)")
    state_file: str = setting("", "timers and alarms kept across restarts (\"\" = timers.json; a bare name "
                                  "lives in the state folder)")


@dataclass(frozen=True)
class PriorityConfig:
    audio_nice: int = setting(-10, "added to the nice value of the audio path's threads (event loop, VAD, echo "
                                   "canceller, sound devices); below 0 needs CAP_SYS_NICE or a raised RLIMIT_NICE, "
                                   "else they stay as they are (Linux only)", min=-20, max=19)
    model_nice: int = setting(-5, "added to the nice value of the model threads (STT, LLM, TTS; busy only while "
                                  "answering): below 0 they go ahead of other programs where permitted; above 0 a "
                                  "reply on a busy machine comes seconds later (Linux only)", min=-20, max=19)
    judge_nice: int = setting(5, "added to the nice value of the end-of-turn judges' threads (Smart Turn, the words "
                                  "cue): above model_nice, so that the reply's transcript, LLM and voice, started at "
                                  "the same pause, go first (Linux only)", min=-20, max=19)


@dataclass(frozen=True)
class Config:
    models: ModelsConfig = section(ModelsConfig, "model files")
    audio: AudioConfig = section(AudioConfig, "sound input and output")
    conversation: ConversationConfig = section(ConversationConfig, "turn taking")
    turn: TurnConfig = section(TurnConfig, "when a spoken turn is over")
    barge_in: BargeInConfig = section(BargeInConfig, "interrupting the assistant")
    vad: VadConfig = section(VadConfig, "voice activity detection (Silero)")
    stt: SttConfig = section(SttConfig, "speech to text (faster-whisper)")
    llm: LlmConfig = section(LlmConfig, "language model")
    tts: TtsConfig = section(TtsConfig, "text to speech")
    tools: ToolsConfig = section(ToolsConfig, "tools: the time, timers and alarms")
    priority: PriorityConfig = section(PriorityConfig, "thread priorities on a busy machine")

    @property
    def models_dir(self) -> Path:
        return resolve_models_dir(self.models.dir)


def user_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "voice-assistant" / "config.toml"


def load_config(path: str | Path | None = None) -> Config:
    """`--config PATH` if given, else the user's config file if it exists, else the packaged defaults."""
    if path is None:
        candidate = user_config_path()
        if not candidate.is_file():
            return Config()
        path = candidate
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (hint: `voice-assistant config > {path}`)") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}; hint: save it as UTF-8)") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    except ValueError:  # tomllib hands int() a literal past Python's 4300-digit limit
        raise ConfigError(f"{path}: invalid TOML: a number is too long (hint: TOML integers fit in 64 bits)") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    return _build(Config, document, path, prefix="")


def _build(cls: type, table: dict[str, Any], path: Path, prefix: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            known = ", ".join(fields)
            raise ConfigError(f"{path}: unknown key {_shown(dotted)} (expected one of: {known})")
        expected = hints[key]
        if isinstance(expected, type) and dataclasses.is_dataclass(expected):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: '{dotted}' must be a table [{dotted}], got {_kind(value)}")
            values[key] = _build(expected, value, path, prefix=f"{dotted}.")
        else:
            values[key] = _check_value(value, expected, fields[key].metadata, path, dotted)
    return cls(**values)


def _check_value(value: Any, expected: Any, meta: typing.Mapping[str, Any], path: Path, dotted: str) -> Any:
    if not _is_a(value, expected):
        raise ConfigError(f"{path}: '{dotted}' must be {_type_name(expected)}, got {_kind(value)} {_shown(value)}")
    choices = meta.get("choices")
    if choices and value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{path}: '{dotted}' must be one of {options}, got {_shown(value)}")
    low, high = meta.get("min"), meta.get("max")
    # NaN compares false with everything, so it would slip through a plain range check
    if (low is not None and not value >= low) or (high is not None and not value <= high):
        raise ConfigError(f"{path}: '{dotted}' must be between {low:g} and {high:g}, got {_shown(value)}")
    return float(value) if expected is float else value  # after the range check: a huge int overflows a float


def _is_a(value: Any, expected: Any) -> bool:
    if isinstance(expected, types.UnionType) or isinstance(value, bool) != (expected is bool):
        return False
    return isinstance(value, int | float) if expected is float else isinstance(value, expected)


def _shown(value: Any) -> str:
    """A value or key as it appears in a one-line error: repr escapes line breaks; long ones are cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(expected: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(
        expected, str(expected))


def _kind(value: Any) -> str:
    return {str: "a string", int: "an integer", float: "a number", bool: "a boolean", dict: "a table",
            list: "an array"}.get(type(value), type(value).__name__)


def render_toml(config: Config | None = None) -> str:
    """The documented config file: every setting with its value and a one-line comment."""
    config = config or Config()
    lines = ["# voice-assistant configuration: every setting, with its default.",
             "# Copy to ~/.config/voice-assistant/config.toml (or pass --config PATH) and edit.", ""]
    _render_table(config, "", lines)
    return "\n".join(lines).rstrip() + "\n"


def _render_table(obj: Any, prefix: str, lines: list[str]) -> None:
    nested = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            nested.append((f, value))
            continue
        lines.append(f"# {f.metadata['doc']}")
        lines.append(f"{f.name} = {_toml_value(value)}")
    for f, value in nested:
        name = f"{prefix}{f.name}"
        if lines and lines[-1] != "":
            lines.append("")
        lines.append(f"[{name}]  # {f.metadata['doc']}")
        _render_table(value, f"{name}.", lines)


_TOML_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # a TOML basic string: control characters must be escaped
        return '"' + "".join(_TOML_ESCAPES.get(c) or (c if c.isprintable() else f"\\U{ord(c):08X}")
                             for c in value) + '"'
    return repr(value)
