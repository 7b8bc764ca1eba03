"""Text to speech: Kokoro-82M (quality) and Piper (fast), both ONNX, behind one protocol.

Both run their ONNX session themselves (not through kokoro-onnx's / piper's own helpers) so that a
cancelled utterance stops the inference already running: the call's StopToken sets `RunOptions.terminate`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from pathlib import Path

import numpy as np
import onnxruntime as ort

from assistant.audio.files import resample
from assistant.config import Config, KokoroConfig, PiperConfig
from assistant.core.speakable import speakable
from assistant.core.spoken_forms import spoken
from assistant.core.thread_priority import Role
from assistant.core.types import AudioChunk
from assistant.core.worker_thread import EngineThread
from assistant.engines.onnx import onnx_session
from assistant.engines.speech_first import SPEECH_FIRST
from assistant.engines.stop_token import StopToken
from assistant.errors import ModelError

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
SENTENCE_PAUSE_S = 0.2  # silence after a sentence, so consecutive chunks do not run together
CLAUSE_PAUSE_S = 0.08


class OnnxVoice:
    """Shared streaming: speakable text → sentences → one audio chunk per sentence, on the engine's thread.

    Each sentence is synthesized in its `spoken()` form ("$20" as "20 dollars"); its chunk carries it as written.
    """

    name: str
    sample_rate: int

    def __init__(self) -> None:
        self._thread = EngineThread(f"tts-{self.name.split()[0].lower()}", Role.MODEL)

    async def synthesize(self, text: str, sample_rate: int | None = None) -> AsyncGenerator[AudioChunk, None]:
        rate = sample_rate or self.sample_rate
        token = StopToken()
        try:
            for sentence in _SENTENCE_END.split(speakable(text)):
                if not speakable(sentence):
                    continue
                samples = await self._thread.run(self._render_sentence, sentence, token.run_options, rate)
                if samples.size:
                    yield AudioChunk(samples, rate, sentence)
        finally:
            token.stop()  # a cancelled or abandoned utterance stops its running inference too

    def _render_sentence(self, sentence: str, run_options: ort.RunOptions, rate: int) -> np.ndarray:
        with SPEECH_FIRST.rendering():  # the embedded LLM waits meanwhile: the cores are the speech's
            samples = self._render(spoken(sentence), run_options)
        if not samples.size:
            return samples
        pause = SENTENCE_PAUSE_S if sentence.rstrip()[-1:] in ".!?" else CLAUSE_PAUSE_S
        samples = np.concatenate([samples, np.zeros(int(pause * self.sample_rate), dtype=np.float32)])
        return resample(samples, self.sample_rate, rate)

    def render_blocking(self, text: str) -> np.ndarray:
        """All of `text` in one array, on the caller's thread (warm-up and measurement)."""
        return self._render(spoken(speakable(text)), ort.RunOptions())

    def _render(self, text: str, run_options: ort.RunOptions) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        self._thread.close()


class KokoroVoice(OnnxVoice):
    sample_rate = 24_000

    def __init__(self, model_path: Path, voice_path: Path, config: KokoroConfig) -> None:
        from kokoro_onnx.session import embedded_vocab, input_dtypes
        from kokoro_onnx.tokenizer import Tokenizer

        self.name = f"Kokoro {voice_path.stem}"
        super().__init__()
        self._session = onnx_session(model_path, config.threads)
        self._tokenizer = Tokenizer(vocab=embedded_vocab(self._session) or None)  # type: ignore[arg-type]
        self._dtypes = input_dtypes(self._session)
        self._tokens_input = "input_ids" if "input_ids" in self._dtypes else "tokens"
        self._style = np.fromfile(voice_path, dtype=np.float32).reshape(-1, 1, 256)  # one row per length
        self._config = config

    def _render(self, text: str, run_options: ort.RunOptions) -> np.ndarray:
        from kokoro_onnx.chunker import split_phonemes
        from kokoro_onnx.config import MAX_PHONEME_LENGTH
        from kokoro_onnx.trim import trim

        phonemes = self._tokenizer.phonemize(text, self._config.lang)
        parts = []
        for batch in split_phonemes(phonemes, MAX_PHONEME_LENGTH):
            tokens = self._tokenizer.tokenize(batch)
            if not tokens:
                continue
            feeds = {
                self._tokens_input: np.array([[0, *tokens, 0]], dtype=self._dtypes[self._tokens_input]),
                "style": self._style[min(len(tokens), len(self._style)) - 1].astype(self._dtypes["style"]),
                "speed": np.array([self._config.speed], dtype=self._dtypes["speed"]),
            }
            audio = np.asarray(self._session.run(None, feeds, run_options)[0], dtype=np.float32).ravel()
            parts.append(trim(audio)[0])  # the model pads each batch with silence
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


class PiperSpeech(OnnxVoice):
    def __init__(self, model_path: Path, config: PiperConfig) -> None:
        from piper.config import PiperConfig as VoiceConfig
        from piper.voice import PiperVoice

        self.name = f"Piper {model_path.stem}"
        super().__init__()
        voice_config = VoiceConfig.from_dict(json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8")))
        self._voice = PiperVoice(session=onnx_session(model_path, config.threads), config=voice_config)
        self.sample_rate = voice_config.sample_rate
        self._scales = np.array([voice_config.noise_scale, voice_config.length_scale / config.speed,
                                 voice_config.noise_w_scale], dtype=np.float32)

    def _render(self, text: str, run_options: ort.RunOptions) -> np.ndarray:
        parts = []
        for phonemes in self._voice.phonemize(text):
            if not phonemes:
                continue
            ids = np.array([self._voice.phonemes_to_ids(phonemes)], dtype=np.int64)
            feeds = {"input": ids, "input_lengths": np.array([ids.shape[1]], dtype=np.int64), "scales": self._scales}
            audio = np.asarray(self._voice.session.run(None, feeds, run_options)[0], dtype=np.float32).ravel()
            peak = float(np.max(np.abs(audio))) if audio.size else 0.0
            parts.append(audio * (0.9 / peak) if peak > 1e-6 else audio)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def load_kokoro(config: Config) -> KokoroVoice:
    from assistant.engines.models import require

    folder = require("kokoro", config.models_dir)
    voices = require("kokoro-voices", config.models_dir)
    voice_path = voices / f"{config.tts.kokoro.voice}.bin"
    if not voice_path.is_file():
        available = ", ".join(sorted(p.stem for p in voices.glob("*.bin")))
        raise ModelError(f"Kokoro voice '{config.tts.kokoro.voice}' not found in {voices} (available: {available})")
    return KokoroVoice(folder / "kokoro-v1.0.int8.onnx", voice_path, config.tts.kokoro)


def load_piper(config: Config) -> PiperSpeech:
    from assistant.engines.models import require

    folder = require(config.tts.piper.voice, config.models_dir)
    return PiperSpeech(folder / f"{config.tts.piper.voice}.onnx", config.tts.piper)
