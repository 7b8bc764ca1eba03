"""Numbers, durations and clock times as people say them (and as Whisper writes them down).

"ten minutes", "an hour and a half", "2 and a half minutes", "90 seconds", "half an hour"; "5 pm", "7:30 a.m.",
"six thirty", "half past six", "noon". Pure functions on text, with word tables: no model, no clock.
"""

from __future__ import annotations

import re

_UNITS = {"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
          "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
          "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_UNIT_SECONDS = {"hour": 3600, "minute": 60, "second": 1}
_UNIT_WORDS = {"hours": "hour", "hour": "hour", "hrs": "hour", "hr": "hour", "minutes": "minute",
               "minute": "minute", "mins": "minute", "min": "minute", "seconds": "second", "second": "second",
               "secs": "second", "sec": "second"}
_NUMBER = r"\d+(?:\.\d+)?"


def normalize(text: str) -> str:
    """Lower case, words split on hyphens, punctuation dropped (but "7:30", "7.30" and "2.5" kept), number words as
    digits, and "a.m."/"p.m." as "am"/"pm"."""
    text = text.lower().replace("-", " ").replace("’", "'")
    text = re.sub(r"\b([ap])\.? ?m\b\.?|\b(p)(?:\. ?| )n\b\.?", r"\1\2m", text)  # "p.m.", "pm", Whisper's "p n"
    text = re.sub(r"(\d)([ap]m)\b", r"\1 \2", text)
    text = re.sub(r"[^\w\s:.']|(?<!\d)[.:]|[.:](?!\d)", " ", text)
    return " ".join(_words_to_digits(text.split()))


def _words_to_digits(words: list[str]) -> list[str]:
    out: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in _TENS:
            value = _TENS[word]
            if index + 1 < len(words) and words[index + 1] in _UNITS and 0 < _UNITS[words[index + 1]] < 10:
                value += _UNITS[words[index + 1]]
                index += 1
            out.append(str(value))
        elif word in _UNITS:
            out.append(str(_UNITS[word]))
        elif word in ("a", "an") and index + 1 < len(words) and words[index + 1] in _UNIT_WORDS:
            out.append("1")  # "an hour", "a minute"
        else:
            out.append(word)
        index += 1
    return out


def parse_duration(text: str) -> float | None:
    """Seconds in a spoken duration ("an hour and a half" → 5400), or None if it names none."""
    text = normalize(text)
    text = re.sub(r"\bhalf (?:an? |1 )?(hour|minute)\b", r"0.5 \1", text)
    text = re.sub(r"\b(?:a )?quarter (?:of )?(?:an? |1 )?hour\b", "0.25 hour", text)
    text = re.sub(rf"\b({_NUMBER}) and (?:a )?half\b", lambda m: str(float(m[1]) + 0.5), text)
    total, found = 0.0, False
    pattern = rf"\b({_NUMBER}) ?({'|'.join(_UNIT_WORDS)})\b(?: and (?:a )?half\b)?"
    for match in re.finditer(pattern, text):
        seconds = _UNIT_SECONDS[_UNIT_WORDS[match[2]]]
        total += float(match[1]) * seconds
        if match[0].endswith("half"):
            total += 0.5 * seconds  # "an hour and a half"
        found = True
    return total if found and total > 0 else None


def parse_clock(text: str) -> tuple[int, int, bool] | None:
    """A clock time in the text: (hour, minute, exact), where `exact` is False when the hour could be morning or
    evening ("at 7"); hours are 0–23. None if there is none."""
    text = normalize(text)
    if re.search(r"\bnoon\b|\bmidday\b", text):
        return 12, 0, True
    if re.search(r"\bmidnight\b", text):
        return 0, 0, True
    meridiem = r"(?: (am|pm|in the morning|in the evening|in the afternoon|at night|tonight))?"
    patterns = [
        (rf"\bhalf past (\d{{1,2}}){meridiem}", lambda m: (int(m[1]), 30, m[2])),
        (rf"\bquarter past (\d{{1,2}}){meridiem}", lambda m: (int(m[1]), 15, m[2])),
        (rf"\bquarter to (\d{{1,2}}){meridiem}", lambda m: (int(m[1]) - 1, 45, m[2])),
        (rf"\b(\d{{1,2}})[:.](\d\d){meridiem}", lambda m: (int(m[1]), int(m[2]), m[3])),
        (rf"\b(\d{{1,2}}) (?:oh )?(\d{{1,2}}){meridiem}\b", lambda m: (int(m[1]), int(m[2]), m[3])),
        (rf"\b(\d{{1,2}})(?: o'?clock| oclock)?{meridiem}", lambda m: (int(m[1]), 0, m[2])),
    ]
    for pattern, read in patterns:
        for match in re.finditer(pattern, text):
            hour, minute, when = read(match)
            if _is_duration(text, match.end()):
                continue  # "in 10 minutes" is no clock time
            if not (0 <= hour <= 23 and 0 <= minute <= 59):
                continue
            if when in ("am", "in the morning") and hour == 12:
                hour = 0
            elif when and when != "am" and when != "in the morning" and hour < 12:
                hour += 12
            return hour, minute, bool(when) or hour > 12 or hour == 0
    return None


def _is_duration(text: str, end: int) -> bool:
    return re.match(rf" ?(?:{'|'.join(_UNIT_WORDS)})\b", text[end:]) is not None
