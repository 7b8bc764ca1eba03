"""spoken(): the forms espeak-ng reads wrongly, written out; and a round trip through each voice and Whisper."""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.audio.files import resample
from assistant.core.spoken_forms import spoken
from assistant.core.types import SAMPLE_RATE
from tests.util import word_error_rate


@pytest.mark.parametrize("written, said", [
    ("The tea costs $4.", "The tea costs 4 dollars."),
    ("Only $1 today", "Only 1 dollar today"),
    ("A ticket is $12.75 now", "A ticket is 12 dollars and 75 cents now"),
    ("Exactly $8.00 and $0.01", "Exactly 8 dollars and 0 dollars and 1 cent"),
    ("They raised $3.2 billion", "They raised 3 point 2 billion dollars"),
    ("Pay €15, £7 or ¥900", "Pay 15 euros, 7 pounds or 900 yen"),
    ("It was $1,250.", "It was 1,250 dollars."),
])
def test_money_is_said_amount_first(written, said):
    assert spoken(written) == said


@pytest.mark.parametrize("written, said", [
    ("The bus leaves at 9:45.", "The bus leaves at 9 45."),
    ("Dinner is at 18:00 sharp", "Dinner is at 18 o'clock sharp"),
    ("Call at 8:07 a.m. please", "Call at 8 oh 7 AM please"),
    ("It opens at 11:00 PM.", "It opens at 11 PM."),
    ("It ends at 6 p.m.", "It ends at 6 PM."),
    ("The score was 3:1 and the log said 10:30:15", "The score was 3:1 and the log said 10:30:15"),
])
def test_clock_times(written, said):
    assert spoken(written) == said


@pytest.mark.parametrize("written, said", [
    ("The trail is 4.2 km long", "The trail is 4 point 2 kilometers long"),
    ("It weighs 1 kg, the box 12 kg", "It weighs 1 kilogram, the box 12 kilograms"),
    ("Drive at 50 km/h for 2 hrs", "Drive at 50 kilometers per hour for 2 hours"),
    ("A 16 GB card, a 700 MB file", "A 16 gigabytes card, a 700 megabytes file"),
    ("Pi is about 3.14.", "Pi is about 3 point 1 4."),
    ("Use 2/3 of the flour and 1/4 of the sugar", "Use 2 thirds of the flour and 1 quarter of the sugar"),
    ("We ranked #2, in ~10 minutes", "We ranked number 2, in about 10 minutes"),
    ("Then 7 * 6 = 42 and n^2 grows", "Then 7 times 6 = 42 and n to the power of 2 grows"),
    ("Check 9 > 4, 1 < 2, a >= b, a != c", "Check 9 greater than 4, 1 less than 2, a greater than or equal to b, "
                                          "a not equal to c"),
])
def test_units_decimals_fractions_and_symbols(written, said):
    assert spoken(written) == said


@pytest.mark.parametrize("text", [
    "Update to v2.4.1 on 10.0.0.7 today.", "It happened on 5/6/2024, open 24/7.", "Buy 3 kgs of C# books.",
    "Use *.txt and #channel, about 5.", "It is 1,500 steps.", "The ratio 5/3 stays.",
])
def test_what_espeak_reads_well_is_left_alone(text):
    assert spoken(text) == text


# -- round trip: the voice says it, Whisper hears it -----------------------------------------------------

ROUND_TRIP = ["It is 3.5 km away.", "The train leaves at 12:00 today.", "We are #1 again.", "Wait ~5 minutes.",
              "Is 5 > 3 true?", "So 2 * 3 = 6."]
_NUMBER_WORDS = {word: str(n) for n, word in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"])}


def words(text: str) -> str:
    """Lowercase words with numbers as digits, Whisper's own formatting ("$20", "3.5 km") written out too."""
    text = spoken(text).lower().replace("=", " equals ").replace("'", "")
    return " ".join(_NUMBER_WORDS.get(word, word) for word in re.findall(r"[a-z0-9]+", text))


def test_words_normalizes_whisper_formatting():
    assert words("It costs $20, twelve o'clock.") == words("it costs 20 dollars 12 oclock")
    assert words("It is 3.5 km.") == "it is 3 point 5 kilometers"


@pytest.mark.parametrize("engine_name", ["kokoro", "piper"])
def test_round_trip_whisper_hears_the_spoken_forms(request, stt, engine_name):
    engine = request.getfixturevalue(engine_name)
    heard = []
    for sentence in ROUND_TRIP:
        audio = resample(engine.render_blocking(sentence), engine.sample_rate, SAMPLE_RATE)
        heard.append(stt.transcribe(audio.astype(np.float32)))
        assert word_error_rate(words(sentence), words(heard[-1])) <= 0.34, (sentence, heard[-1])
    assert word_error_rate(words(" ".join(ROUND_TRIP)), words(" ".join(heard))) <= 0.15, heard
