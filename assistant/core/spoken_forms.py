"""Numbers, units and symbols written the way a listener expects to hear them, for the TTS phonemizer.

Both voices phonemize with espeak-ng, which reads most forms well ("50%", "&", "+", "=", "-5", "1,000",
"2nd", "°C", "×", "≤"). Each rule here fixes one it was heard to get wrong:

- "$20", "€10", "£5" are read "dollar twenty", "euros ten", "pound five";
- "3.5" in a sentence is read by Kokoro "three. five" (its phonemizer splits at the dot);
- "12:00" and "7:05" are read "twelve zero zero", "seven zero five", "p.m." by Kokoro with a stop inside;
- "3/4" is "three slash four", "#1" "hash one", "~5" "tilde five";
- "5 > 3" and "x^2" lose their symbol ("five three", "ex two"), "2 * 3" is "two asterisk three";
- "5 kg", "3 km", "2 hrs" are spelled out letter by letter ("five K G").

`spoken()` is applied to one sentence just before it is synthesized: the text shown stays as written.
"""

from __future__ import annotations

import re

_CURRENCIES = {  # symbol: (one, many, one hundredth, many hundredths)
    "$": ("dollar", "dollars", "cent", "cents"),
    "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "¥": ("yen", "yen", "sen", "sen"),
}
_SCALES = r"thousand|million|billion|trillion"
_NUMBER = r"\d(?:[\d,]*\d)?"  # "1,500": commas only between digits
_MONEY = re.compile(rf"([$€£¥])({_NUMBER})(?:\.(\d\d))?(?:\s+({_SCALES})\b)?")
_SCALED_DECIMAL = re.compile(rf"([$€£¥])(\d+\.\d+)\s+({_SCALES})\b")  # "$2.5 million"

_UNITS = {  # as written after a number: (one, many); case matters ("MB" is not "mb")
    "km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
    "kg": ("kilogram", "kilograms"), "mg": ("milligram", "milligrams"), "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"), "ml": ("milliliter", "milliliters"),
    "ft": ("foot", "feet"), "km/h": ("kilometer per hour", "kilometers per hour"),
    "hr": ("hour", "hours"), "hrs": ("hour", "hours"), "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"), "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "kWh": ("kilowatt hour", "kilowatt hours"), "KB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
}
_UNIT = re.compile(rf"(?<![\w.,])({_NUMBER}(?:\.\d+)?)\s?(" + "|".join(
    re.escape(unit) for unit in sorted(_UNITS, key=len, reverse=True)) + r")(?![\w/])")

_FRACTIONS = {2: ("half", "halves"), 3: ("third", "thirds"), 4: ("quarter", "quarters"), 5: ("fifth", "fifths"),
              6: ("sixth", "sixths"), 8: ("eighth", "eighths"), 10: ("tenth", "tenths")}
_FRACTION = re.compile(r"(?<![\w/.])(\d)/(\d{1,2})(?![\w/]|\.\d)")  # not a date: "3/4/2025"

_CLOCK = re.compile(r"(?<![\w:.])([01]?\d|2[0-3]):([0-5]\d)(?![\w:])(\s*[AaPp]\.?[Mm]\b\.?)?")
_MERIDIEM = re.compile(r"(?<=\d)\s*([AaPp])\.[Mm]\.")  # "5 p.m." (after a number only)

# Symbols espeak drops or misreads, in the places where they are that symbol.
_SYMBOLS = [
    (re.compile(r"(?<![\w#&])#(?=\d)"), "number "),  # "#1"
    (re.compile(r"(?<![\w~])~(?=\d)"), "about "),  # "~5"
    (re.compile(r"(?<=\w)\s*(?:\*\*|\^)\s*(?=\d)"), " to the power of "),  # "x**2", "x^2"
    (re.compile(r"(?<=\d)\s*\*\s*(?=\d)"), " times "),  # "2 * 3", "2*3"
    (re.compile(r"(?<=\S) >= (?=\S)"), " greater than or equal to "),
    (re.compile(r"(?<=\S) <= (?=\S)"), " less than or equal to "),
    (re.compile(r"(?<=\S) != (?=\S)"), " not equal to "),
    (re.compile(r"(?<=\S) > (?=\S)"), " greater than "),
    (re.compile(r"(?<=\S) < (?=\S)"), " less than "),
]
# A decimal number, not a version or an address ("v1.2.3", "10.0.0.1"): digits after the point one by one.
_DECIMAL = re.compile(r"(?<![\w.])(\d+)\.(\d+)(?![\w]|\.\d)")


def _money(match: re.Match[str]) -> str:
    one, many, hundredth, hundredths = _CURRENCIES[match[1]]
    whole, cents, scale = match[2], match[3], match[4]
    if scale:
        return f"{whole} {scale} {many}"
    said = f"{whole} {one if whole == '1' else many}"
    if cents and cents != "00":
        said += f" and {int(cents)} {hundredth if cents == '01' else hundredths}"
    return said


def _scaled_money(match: re.Match[str]) -> str:
    return f"{match[2]} {match[3]} {_CURRENCIES[match[1]][1]}"


def _unit(match: re.Match[str]) -> str:
    one, many = _UNITS[match[2]]
    return f"{match[1]} {one if match[1] == '1' else many}"


def _fraction(match: re.Match[str]) -> str:
    top, bottom = int(match[1]), int(match[2])
    if not 0 < top < bottom or bottom not in _FRACTIONS:
        return match[0]
    one, many = _FRACTIONS[bottom]
    return f"{top} {one if top == 1 else many}"


def _clock(match: re.Match[str]) -> str:
    hour, minute, meridiem = match[1], match[2], match[3]
    if meridiem:
        return hour + ("" if minute == "00" else f" {_minutes(minute)}") + f" {meridiem.strip()[0].upper()}M"
    return f"{hour} o'clock" if minute == "00" else f"{hour} {_minutes(minute)}"


def _minutes(minute: str) -> str:
    return f"oh {minute[1]}" if minute[0] == "0" else minute  # "7:05" is "seven oh five"


def _decimal(match: re.Match[str]) -> str:
    return f"{match[1]} point {' '.join(match[2])}"


def spoken(text: str) -> str:
    """`text` with numbers, units and symbols written out where the phonemizer would misread them."""
    said = _written_out(text)
    if text.endswith(".") and not said.endswith("."):  # "at 5 p.m." still ends its sentence
        said += "."
    return said


def _written_out(text: str) -> str:
    text = _SCALED_DECIMAL.sub(_scaled_money, text)
    text = _MONEY.sub(_money, text)
    text = _CLOCK.sub(_clock, text)
    text = _MERIDIEM.sub(lambda m: f" {m[1].upper()}M", text)
    text = _FRACTION.sub(_fraction, text)
    text = _UNIT.sub(_unit, text)
    for pattern, words in _SYMBOLS:
        text = pattern.sub(words, text)
    return _DECIMAL.sub(_decimal, text)
