"""Speech to text with faster-whisper.

faster-whisper pads every call to Whisper's 30 s window (~1.8 CPU-s per call on 2 cores, whatever the
utterance length). The "fast" method instead encodes only the utterance plus a short tail of silence straight
through the CTranslate2 model, caps the tokens by the audio's length and trims repetition loops.
The "reference" method is plain `WhisperModel.transcribe`, kept to compare against.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens

from assistant.config import Config, SttConfig
from assistant.core.speech_detector import SpeechDetector
from assistant.core.thread_priority import Role
from assistant.core.types import SAMPLE_RATE
from assistant.core.worker_thread import EngineThread
from assistant.engines.vad import SileroModel, speech_segments

TAIL_SILENCE_S = 0.6  # Whisper saw speech followed by silence in training; a short tail lets it end cleanly
MAX_FAST_SECONDS = 28.0  # the encoder's positional window is 30 s; longer audio takes the reference path
# The cap only has to stop runaway loops (trim_repeats cuts what gets through). Measured: generation ends at about
# half the length this allows, and 6/s cut the last words off 4 of the 13 bench questions; 15/s cuts none.
TOKENS_PER_SECOND = 15
MIN_TOKEN_CAP = 24
NO_SPEECH_THRESHOLD = 0.6


def trim_repeats(tokens: list[int], ends_sentence: Callable[[int], bool], min_run: int = 3) -> list[int]:
    """Cut a decoding loop: drop the tail from the first point where it only replays earlier tokens.

    Whisper fed a short window tends to start over once the speech is done ("ask not ask not ask…",
    "Americans. And so my…"). A replay of `min_run`+ tokens is cut anywhere; a shorter one only when it
    restarts the transcript right after a sentence end.
    """
    for cut in range(1, len(tokens)):
        tail = tokens[cut:]
        for source in range(cut):
            if tokens[source:source + len(tail)] != tail:
                continue
            if len(tail) >= min_run or (source == 0 and ends_sentence(tokens[cut - 1])):
                return tokens[:cut]
    return tokens


_SENTENCE_END = re.compile(r"[.?!](?=\s+\S)")


def drop_restarted_tail(text: str) -> str:
    """Drop what follows a sentence end when it only replays the transcript's opening words.

    That is a loop the token-level trim cannot see, because the words come back in another case or with another
    letter or mark: one cut short by the token cap ("…light breeze. The" after "The weather…", "Please remind me…
    Place"), or a whole replay ("is five greater than three true. Is five greater than three true?"). A tail longer
    than what comes before it says something new ("Thank you. Thank you very much.") and is kept.
    """
    text = text.strip()
    opening = text.lower().split()
    for end in _SENTENCE_END.finditer(text):
        kept, tail = text[: end.end()], text[end.end():].lower().split()
        if len(tail) <= len(kept.split()) and all(
                difflib.SequenceMatcher(None, a.strip(".,?!"), b.strip(".,?!")).ratio() >= 0.7
                for a, b in zip(tail, opening, strict=False)):
            return kept
    return text


class WhisperStt:
    def __init__(self, model_dir: Path, config: SttConfig, speech_gate: SileroModel,
                 gate_detector: SpeechDetector) -> None:
        self._config = config
        self._model = WhisperModel(str(model_dir), device="cpu", compute_type="int8",
                                   cpu_threads=config.threads, num_workers=1)
        multilingual = self._model.model.is_multilingual
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, multilingual, task="transcribe",
                                    language=config.language if multilingual else "en")
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._suppress = get_suppressed_tokens(self._tokenizer, [-1])
        self._gate, self._gate_detector = speech_gate, gate_detector
        self._thread = EngineThread("stt", Role.MODEL)

    async def partial(self, audio: np.ndarray) -> str:
        return await self._thread.run(self._transcribe_fast, audio)

    async def final(self, audio: np.ndarray) -> str:
        return await self._thread.run(self.transcribe, audio)

    def transcribe(self, audio: np.ndarray) -> str:
        """Blocking; the engine thread's job. Audio without speech gives "" instead of a hallucination."""
        if not speech_segments(self._gate, self._gate_detector, audio):
            return ""
        if self._config.method == "reference" or len(audio) > MAX_FAST_SECONDS * SAMPLE_RATE:
            return self._transcribe_reference(audio)
        return self._transcribe_fast(audio)

    def _transcribe_fast(self, audio: np.ndarray) -> str:
        if len(audio) > MAX_FAST_SECONDS * SAMPLE_RATE:
            audio = audio[-int(MAX_FAST_SECONDS * SAMPLE_RATE):]  # a partial only needs the recent words
        tail = np.zeros(int(TAIL_SILENCE_S * SAMPLE_RATE), dtype=np.float32)
        features = self._model.feature_extractor(np.concatenate([audio.astype(np.float32), tail]))
        features = features[:, : features.shape[1] - features.shape[1] % 2]  # the encoder halves the frames
        batch = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[np.newaxis]))
        encoded = self._model.model.encode(batch, to_cpu=False)
        cap = max(MIN_TOKEN_CAP, int(TOKENS_PER_SECOND * len(audio) / SAMPLE_RATE))
        result = self._model.model.generate(
            encoded, [self._prompt], beam_size=self._config.beam_size, max_length=len(self._prompt) + cap,
            return_no_speech_prob=True, suppress_blank=True, suppress_tokens=self._suppress)[0]
        if result.no_speech_prob > NO_SPEECH_THRESHOLD:
            return ""
        tokens = [t for t in result.sequences_ids[0] if t < self._tokenizer.eot]
        return drop_restarted_tail(self._tokenizer.decode(trim_repeats(tokens, self._ends_sentence)).strip())

    def _ends_sentence(self, token: int) -> bool:
        return self._tokenizer.decode([token]).rstrip().endswith((".", "?", "!"))

    def _transcribe_reference(self, audio: np.ndarray) -> str:
        segments, _ = self._model.transcribe(
            audio, language=self._config.language if self._model.model.is_multilingual else "en",
            beam_size=self._config.beam_size, condition_on_previous_text=False, without_timestamps=True,
            vad_filter=False)
        return " ".join(s.text.strip() for s in segments if s.no_speech_prob <= NO_SPEECH_THRESHOLD).strip()

    def close(self) -> None:
        self._thread.close()


def resolve_whisper_dir(config: Config) -> Path:
    from assistant.engines.models import require, require_folder

    candidate = Path(config.stt.model).expanduser()
    if candidate.is_dir():  # a folder path: checked like a named model when it is a copy of one
        return require_folder(candidate, "whisper-", ("model.bin", "config.json", "tokenizer.json"))
    return require(config.stt.model, config.models_dir)


def load_stt(config: Config) -> WhisperStt:
    from assistant.engines.vad import load_silero_model

    return WhisperStt(resolve_whisper_dir(config), config.stt, load_silero_model(config),
                      SpeechDetector(config.vad))
