"""The time, timer and alarm requests, read from a final transcript without the language model.

SmolLM2-135M cannot call tools reliably, so with the embedded model these plain requests are matched here first:
word tables and patterns on the normalized text ("set a timer for ten minutes", "wake me up at 6:30",
"how long is left on the pasta timer"). Anything else (or anything unsure) is left to the model.
"""

from __future__ import annotations

import re

from assistant.core.tooling import ToolCall
from assistant.tools.spoken_numbers import normalize, parse_clock, parse_duration

# How Whisper writes "timer" too ("Cancel the T-Tima", "Stop the timeo"); a plain "time" counts only in
# "set a time for ten minutes", with a verb and a duration.
_TIMER = r"(?:timer|tima|timeo|countdown)"
_ALARM = r"(?:alarm|wake me(?: up)?)"
_SET = r"(?:set|sets|start|started|starts|make|put|create|add|give|need|want)"
_CANCEL = r"(?:cancel|cancelled|canceled|stop|delete|remove|clear|turn off|kill)"
# Labels Whisper writes as a letter or a homophone
_LABEL_SOUNDS = {"t": "tea", "tee": "tea", "pastor": "pasta"}
_NOT_A_LABEL = {"a", "an", "the", "my", "me", "up", "new", "for", "set", "start", "timer", "alarm", "please", "of",
                "called", "named", "minute", "second", "hour", "and", "to", "in", "on", "is", "it", "that", "this"}
_DURATION_WORDS = r"\d|hour|minute|second|half|quarter"


def match_intent(text: str) -> ToolCall | None:
    said = normalize(text)
    if not said:
        return None
    for intent in (_cancel, _time_left, _list_timers, _set_alarm, _set_timer, _current_time):
        call = intent(said)
        if call is not None:
            return call
    return None


def _current_time(said: str) -> ToolCall | None:
    asks = re.search(r"\bwhat(?:'s| is)? (?:the )?(?:current )?(?:time|date|day)\b|\btime is it\b|\bwhat day\b"
                     r"|\b(?:tell|give) me the (?:time|date)\b|\btoday'?s date\b|\bthe time (?:now|please)\b"
                     r"|\bcurrent time\b|\bwhat (?:is )?today\b", said)
    elsewhere = re.search(r"\btime (?:is it )?in (?!the\b)[a-z]", said)  # "in Tokyo": the model may know
    if asks and not elsewhere and not re.search(rf"\b{_TIMER}|\balarm\b|\bleft\b", said):
        return ToolCall("current_time")
    return None


def _set_timer(said: str) -> ToolCall | None:
    timer_word = re.search(rf"\b{_TIMER}\b|\bremind me in\b|\bcount down\b", said)
    if not timer_word and not re.search(rf"(?:^|\b{_SET}(?: \S+){{0,3}} )time\b", said):
        return None
    if not re.search(rf"\b(?:{_SET}|remind|count|for|timer)\b", said):
        return None
    duration = parse_duration(said)
    if duration is None:
        return None
    phrase = _duration_phrase(said)
    label = _label(said)
    return ToolCall("set_timer", {"duration": phrase, **({"label": label} if label else {})})


def _set_alarm(said: str) -> ToolCall | None:
    if not re.search(rf"\b{_ALARM}\b", said) or re.search(rf"\b(?:{_CANCEL}|left)\b", said):
        return None
    clock = parse_clock(said)
    if clock is None:
        return None
    hour, minute, exact = clock
    time = f"{hour}:{minute:02d}" if exact else f"{hour}:{minute:02d}".removesuffix(":00") or str(hour)
    label = _label(said)
    return ToolCall("set_alarm", {"time": time, **({"label": label} if label else {})})


def _list_timers(said: str) -> ToolCall | None:
    asks = re.search(rf"\b(?:list|what|which|any|show)\b.*\b(?:{_TIMER}|alarm)s?\b", said) or \
        re.search(rf"\bmy (?:{_TIMER}|alarm)s\b", said)  # "... my alarms", the verb misheard
    if asks and not re.search(rf"\b(?:{_SET}|{_CANCEL}|left|remaining)\b", said):
        return ToolCall("list_timers")
    return None


def _time_left(said: str) -> ToolCall | None:
    if re.search(r"\b(?:left|remaining|remain)\b|\bhow long (?:until|till|before)\b", said) and \
            re.search(rf"\b{_TIMER}|\balarm|\bhow (?:much|long)\b", said):
        label = _label(said)
        return ToolCall("time_left", {"label": label} if label else {})
    return None


def _cancel(said: str) -> ToolCall | None:
    if re.search(rf"\b{_CANCEL}\b", said) and re.search(rf"\b{_TIMER}s?\b|\balarms?\b", said):
        if re.search(r"\ball\b", said):
            return ToolCall("cancel_timer", {"label": "all"})
        label = _label(said)
        return ToolCall("cancel_timer", {"label": label} if label else {})
    return None


def _duration_phrase(said: str) -> str:
    """The stretch of words that says how long, e.g. "1 hour and 0.5" out of "set a timer for an hour and a
    half" (given to set_timer as it was said, normalized)."""
    words = said.split()
    spans = [i for i, word in enumerate(words) if re.search(_DURATION_WORDS, word)]
    return " ".join(words[spans[0]:spans[-1] + 1])


def _label(said: str) -> str:
    """The word(s) naming a timer: "pasta" in "set a pasta timer", "tea" in "a timer called tea" or "a timer for
    the tea"; "" when there is none."""
    return " ".join(_LABEL_SOUNDS.get(word, word) for word in _label_words(said).split())


def _label_words(said: str) -> str:
    named = re.search(r"\b(?:called|named|labell?ed|for the|for my|on the|on my)\s+([a-z]+(?: [a-z]+)?)", said)
    if named:
        candidate = " ".join(w for w in named[1].split() if w not in _NOT_A_LABEL
                             and not re.search(_DURATION_WORDS, w) and w not in ("timer", "alarm"))
        if candidate:
            return candidate
    before = re.search(rf"\b(?:a|an|the|my)\s+((?:[a-z]+\s+)?)([a-z]+)\s+(?:{_TIMER}|alarm)\b", said)
    if before:
        words = [w for w in (before[1].strip(), before[2]) if w and w not in _NOT_A_LABEL
                 and not re.search(_DURATION_WORDS, w)]
        return " ".join(words)
    return ""
