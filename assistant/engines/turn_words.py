"""Do the words sound finished? The end-of-turn cue from the transcript, next to Smart Turn's cue from the sound.

Smart Turn hears prosody: a half question spoken with a falling tone ("What is the capital") sounds finished to
it. A small language model reads the words instead: given the user's words so far, with the punctuation Whisper
guessed taken off, how likely is the message to end here (the next token closes the message or is a sentence
end)? On the bench's 19 questions cut at a word gap it gave every first half ≤ 0.26 (13 of them < 0.02) and every
whole question ≥ 0.05. SmolLM2-135M (the embedded LLM's model file) answers in ~15–40 ms on one thread.

It runs its own small llama.cpp context, never the reply's: the reply is being generated at that very moment.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import re
import shutil
from typing import Any

from assistant.config import Config, LlmConfig
from assistant.core.thread_priority import Role
from assistant.core.worker_thread import EngineThread

MODEL = "smollm2-135m-instruct"  # its chat template is written out below: the calibration is this model's
# The thresholds were measured with the assistant's default instructions (not the user's) in front of the words.
_PROMPT = "<|im_start|>system\n" + LlmConfig().system_prompt + "<|im_end|>\n<|im_start|>user\n{words}"
_ENDINGS = frozenset({"<|im_end|>", "?", ".", "!", "??"})  # tokens that close what the user said
_CANDIDATES = 50  # next tokens looked at: the endings are among them whenever they matter
_CONTEXT_TOKENS = 256
_PUNCTUATION = re.compile(r"[^\w\s']")


def bare_words(text: str) -> str:
    """Lower case, no punctuation: Whisper punctuates a half sentence as a whole one ("What is the capital?")."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


class WordsEndModel:
    """Blocking: P(the words end the message), on a private llama.cpp context."""

    def __init__(self, config: Config) -> None:
        from assistant.engines.llm.embedded import registry_gguf, start_server

        gguf = registry_gguf(MODEL, config.models_dir)
        settings = dataclasses.replace(config.llm.embedded, context_tokens=_CONTEXT_TOKENS, threads=1)
        self._server: Any
        self._server, self._socket_dir = start_server(gguf, settings)

    def probability(self, text: str) -> float:
        request = json.dumps({"prompt": _PROMPT.format(words=bare_words(text)), "max_tokens": 1,
                              "n_probs": _CANDIDATES, "temperature": 0.0, "cache_prompt": True})
        answers: list[Any] = []

        def take(answer: Any) -> bool:
            answers.append(answer)
            return False  # go on

        self._server.handle_completions(request, take)
        answer = answers[-1] if answers else {}
        if isinstance(answer, str):
            answer = json.loads(answer)
        try:
            candidates = answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        except (KeyError, IndexError, TypeError):
            raise RuntimeError(f"llama.cpp gave no token probabilities: {str(answer)[:200]}") from None
        return min(1.0, math.fsum(math.exp(c["logprob"]) for c in candidates if c["token"].strip() in _ENDINGS))

    def close(self) -> None:
        self._server = None  # its destructor joins llama.cpp's threads
        shutil.rmtree(self._socket_dir, ignore_errors=True)


class WordsEndDetector:
    """The words cue as an engine: loaded, asked and freed on its own thread, never the event loop (llama.cpp's
    threads belong to the thread that started them). A question asked while it loads waits for it."""

    name = "SmolLM2 words"

    def __init__(self, config: Config) -> None:
        self._thread = EngineThread("turn-words", Role.JUDGE)
        self._model = asyncio.ensure_future(self._thread.run(WordsEndModel, config))
        self._model.add_done_callback(self._warm_up)

    def _warm_up(self, loading: asyncio.Future[WordsEndModel]) -> None:
        """Read its instructions once (then cached) after `loaded()`: it releases the GIL, unlike the loading, so
        it may overlap a running conversation; a first question simply waits behind it on the thread."""
        if not loading.cancelled() and loading.exception() is None:
            warming = asyncio.ensure_future(self._thread.run(loading.result().probability, "hello"))
            warming.add_done_callback(lambda job: job.cancelled() or job.exception())  # its failure: seen when asked

    async def loaded(self) -> None:
        """Once the model is in (its loading error, if any, raised here)."""
        await self._loaded()

    async def finished(self, text: str) -> float:
        return await self._thread.run((await self._loaded()).probability, text)

    async def close(self) -> None:
        try:
            model = await self._loaded()
        except Exception:  # it never loaded: nothing to free
            pass
        else:
            await self._thread.run(model.close)  # llama.cpp's threads are joined there, not on the event loop
        finally:
            self._thread.close()

    async def _loaded(self) -> WordsEndModel:
        if self._model.done():
            return self._model.result()
        return await asyncio.shield(self._model)  # a question that times out must not cancel the loading


def start_words_detector(config: Config) -> WordsEndDetector | None:
    """The words cue, starting to load; None when not used. Call it from the event loop."""
    if config.turn.end_of_turn != "smart" or not config.turn.words:
        return None
    return WordsEndDetector(config)
