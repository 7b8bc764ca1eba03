"""Which voice speaks: `[tts] engine = "auto"` picks Kokoro only when the user gets it quickly and without stutter.

Kokoro's and Piper's first-chunk latency and real-time factor, measured while the embedded LLM generates, come
from the cache (tts_measure.py), so startup does not measure again. Kokoro is picked when the voice-to-voice time
it predicts stays within `[tts] max_first_audio_ms` and it renders faster than real time under that load; else
Piper, with the reason in the status line.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.config import Config
from assistant.core.worker_thread import EngineThread
from assistant.engines.tts import OnnxVoice, load_kokoro, load_piper
from assistant.engines.tts_measure import TtsMeasurement, cached_measurements

KOKORO_MAX_RTF = 0.9  # under load; nearer 1 a late sentence is not ready when the one before it ends: a stutter
# The end of a turn is confirmed about this long after the hangover starts counting (measured by the bench: 569 ms
# for a 480 ms hangover: the VAD's last voiced frame and frame alignment).
CONFIRM_EXTRA_MS = 90.0
# With the end-of-turn model, a finished question's turn ends this long after the model is asked (its time and
# frame alignment; measured in `converse` runs: 275–285 ms after the end of speech with check_after_ms = 160).
MODEL_CONFIRM_EXTRA_MS = 120.0
STT_FINAL_MS = 250.0  # the final transcript after the end of speech (bench, Whisper tiny.en, 2 cores)
LLM_FIRST_CLAUSE_MS = 250.0  # the first clause of text when the LLM was not measured (Ollama users)


@dataclass(frozen=True)
class TtsChoice:
    engine: OnnxVoice
    why: str  # without the engine's name: "configured", "auto: voice-to-voice ≈ 850 ms …"
    fallback: str | None = None  # with engine = auto: why Kokoro was not used, if it was not


@dataclass(frozen=True)
class Verdict:
    engine: str  # "kokoro" or "piper"
    why: str
    fallback: str | None = None


def predicted_voice_to_voice_ms(config: Config, measured: TtsMeasurement) -> float:
    """From the end of speech to the first audio: the turn's confirmation and the path transcript → first clause
    of text → its audio run side by side with speculative end of turn, one after the other without it."""
    if config.turn.end_of_turn == "smart":
        confirm = config.turn.check_after_ms + MODEL_CONFIRM_EXTRA_MS
    else:
        confirm = config.vad.hangover_ms + CONFIRM_EXTRA_MS
    text_ready = STT_FINAL_MS + (measured.text_ready_ms if measured.text_ready_ms is not None else LLM_FIRST_CLAUSE_MS)
    if config.conversation.speculative_end_of_turn:
        return max(confirm, text_ready + measured.first_chunk_ms)
    return confirm + text_ready + measured.first_chunk_ms


def decide(config: Config, kokoro: TtsMeasurement, piper: TtsMeasurement) -> Verdict:
    """`auto`'s pick from the measurements (pure)."""
    limit = config.tts.max_first_audio_ms
    kokoro_ms = predicted_voice_to_voice_ms(config, kokoro)
    piper_ms = predicted_voice_to_voice_ms(config, piper)
    if kokoro_ms > limit:
        why_not = (f"Kokoro would answer in ≈ {kokoro_ms:.0f} ms here (over [tts] max_first_audio_ms = {limit:g}; "
                   f"first chunk {kokoro.first_chunk_ms:.0f} ms with the LLM running)")
    elif kokoro.rtf >= KOKORO_MAX_RTF:
        why_not = (f"Kokoro would stutter here (real-time factor {kokoro.rtf:.2f} with the LLM running, "
                   f"needs < {KOKORO_MAX_RTF:g})")
    else:
        return Verdict("kokoro", f"auto: voice-to-voice ≈ {kokoro_ms:.0f} ms (≤ {limit:g}), real-time factor "
                                 f"{kokoro.rtf:.2f} with the LLM running")
    return Verdict("piper", f"auto: {why_not}; Piper ≈ {piper_ms:.0f} ms, real-time factor {piper.rtf:.2f}",
                   fallback=why_not)


def _warmed(voice: OnnxVoice) -> OnnxVoice:
    voice.render_blocking("Hi.")  # the first inference pays for allocations: not the user's first reply
    return voice


async def load_tts(config: Config, engine: str | None = None) -> TtsChoice:
    """Load and warm up the configured engine, or `auto`'s pick (measured once per machine, then cached)."""
    engine = engine or config.tts.engine
    loader = EngineThread("tts-load")
    try:
        if engine != "auto":
            voice = await loader.run(lambda: _warmed(load_kokoro(config) if engine == "kokoro" else load_piper(config)))
            return TtsChoice(voice, "configured")
        measured, spent_s = await cached_measurements(config)
        verdict = decide(config, measured["kokoro"], measured["piper"])
        voice = await loader.run(lambda: _warmed(load_kokoro(config) if verdict.engine == "kokoro"
                                                 else load_piper(config)))
        why = verdict.why + (f" (measured now in {spent_s:.0f} s, once for this machine)" if spent_s else "")
        return TtsChoice(voice, why, verdict.fallback)
    finally:
        loader.close()
