"""The record of one turn: transcript, reply, outcome and the time of each stage on the input timeline."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Stages of a turn, in order; each is a time in ms on the input timeline (0 = first microphone sample).
STAGES = ("speech_start", "speech_end", "end_of_turn", "stt_final", "llm_first_token", "first_chunk",
          "first_tts_chunk", "first_audio")


@dataclass
class TurnRecord:
    turn: int
    transcript: str = ""
    reply: str = ""  # for an interrupted turn: only what was played
    outcome: str = "pending"  # replied | interrupted | failed | no speech
    interrupted: bool = False
    notice: str = ""
    times_ms: dict[str, float] = field(default_factory=dict)
    barge_in_ms: float | None = None

    @property
    def voice_to_voice_ms(self) -> float | None:
        if "first_audio" in self.times_ms and "speech_end" in self.times_ms:
            return self.times_ms["first_audio"] - self.times_ms["speech_end"]
        return None

    def to_json(self) -> dict:
        record = asdict(self)
        record["voice_to_voice_ms"] = _round(self.voice_to_voice_ms)
        record["barge_in_ms"] = _round(self.barge_in_ms)
        record["times_ms"] = {k: _round(v) for k, v in self.times_ms.items()}
        return record


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
