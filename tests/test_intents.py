"""The intent layer (time, timer and alarm requests without the model): on written phrasings, then on the same
requests spoken by Kokoro and Piper voices and transcribed by the real Whisper, where the hit rate is measured."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from assistant.tools.intents import match_intent
from assistant.tools.spoken_numbers import parse_clock, parse_duration

# (request, expected call): set_timer as (seconds, label), set_alarm as (hour, minute), others as (label or None)
REQUESTS = [
    ("What time is it?", ("current_time", None)),
    ("What's the time?", ("current_time", None)),
    ("Can you tell me the time, please?", ("current_time", None)),
    ("What is today's date?", ("current_time", None)),
    ("What day is it today?", ("current_time", None)),
    ("Set a timer for ten minutes.", ("set_timer", (600, ""))),
    ("Set a timer for five minutes.", ("set_timer", (300, ""))),
    ("Timer for three minutes, please.", ("set_timer", (180, ""))),
    ("Start a twenty minute timer.", ("set_timer", (1200, ""))),
    ("Set a timer for an hour and a half.", ("set_timer", (5400, ""))),
    ("Set a timer for half an hour.", ("set_timer", (1800, ""))),
    ("Set a timer for ninety seconds.", ("set_timer", (90, ""))),
    ("Set a timer for two and a half minutes.", ("set_timer", (150, ""))),
    ("Set a timer for one hour and fifteen minutes.", ("set_timer", (4500, ""))),
    ("Set a pasta timer for eight minutes.", ("set_timer", (480, "pasta"))),
    ("Set a timer called tea for four minutes.", ("set_timer", (240, "tea"))),
    ("Set a ten minute timer for the eggs.", ("set_timer", (600, "eggs"))),
    ("Remind me in fifteen minutes.", ("set_timer", (900, ""))),
    ("Set an alarm for seven a.m.", ("set_alarm", (7, 0))),
    ("Set an alarm for five p.m.", ("set_alarm", (17, 0))),
    ("Wake me up at six thirty in the morning.", ("set_alarm", (6, 30))),
    ("Set an alarm for half past eight in the evening.", ("set_alarm", (20, 30))),
    ("Set an alarm for noon.", ("set_alarm", (12, 0))),
    ("How much time is left on the pasta timer?", ("time_left", "pasta")),
    ("How long is left on my timer?", ("time_left", None)),
    ("How much time is left?", ("time_left", None)),
    ("What timers do I have?", ("list_timers", None)),
    ("List my alarms.", ("list_timers", None)),
    ("Cancel the tea timer.", ("cancel_timer", "tea")),
    ("Cancel my alarm.", ("cancel_timer", None)),
    ("Stop the timer.", ("cancel_timer", None)),
    ("Cancel all timers.", ("cancel_timer", "all")),
    # added after the word tables were tuned on the ones above: a check that they were not fitted to them only
    ("Please set a timer for twelve minutes.", ("set_timer", (720, ""))),
    ("Can you start a timer for forty five seconds?", ("set_timer", (45, ""))),
    ("Set a timer for three hours.", ("set_timer", (10800, ""))),
    ("Put a timer on for seven minutes.", ("set_timer", (420, ""))),
    ("Wake me up at quarter to seven.", ("set_alarm", (6, 45))),
    ("What's the date?", ("current_time", None)),
    ("How long until my alarm goes off?", ("time_left", None)),
    ("Delete the pasta timer.", ("cancel_timer", "pasta")),
]
# Requests the model must answer: no tool is called for them
OTHERS = ["What time is it in Tokyo?", "What is the capital of France?", "Tell me a story about time travel.",
          "How are you today?", "What is two plus two?", "Who set the world record for the mile?",
          "Why do cats sleep so much?"]


def as_expected(text: str):
    """What the intent layer made of `text`, in the shape of REQUESTS' expectations (None: no call)."""
    call = match_intent(text)
    if call is None:
        return None
    arguments = call.arguments
    if call.name == "set_timer":
        seconds = parse_duration(arguments["duration"])
        return call.name, (round(seconds) if seconds else None, arguments.get("label", ""))
    if call.name == "set_alarm":
        clock = parse_clock(arguments["time"])
        return call.name, clock[:2] if clock else None
    return call.name, arguments.get("label")


@pytest.mark.parametrize(("text", "expected"), REQUESTS)
def test_written_requests(text, expected):
    assert as_expected(text) == expected


@pytest.mark.parametrize("text", OTHERS)
def test_other_questions_are_left_to_the_model(text):
    assert match_intent(text) is None


@pytest.mark.parametrize("text", ["Set a timer for 10 minutes.", "Set an alarm for 7 AM.", "Set an alarm for 7:30 a.m.",
                                  "Set a timer for 1.5 hours.", "Set a timer for 10-minutes."])
def test_whisper_writes_numbers_as_digits_and_that_is_read_too(text):
    assert as_expected(text) is not None


@pytest.mark.parametrize(("heard", "expected"), [
    ("Time for three minutes, please.", ("set_timer", (180, ""))),
    ("started 20 minute time.", ("set_timer", (1200, ""))),
    ("Set a time for half an hour.", ("set_timer", (1800, ""))),
    ("Set a timer called T for four minutes.", ("set_timer", (240, "tea"))),
    ("Set an alarm for 5 p n.", ("set_alarm", (17, 0))),
    ("Cancel the T-Tima.", ("cancel_timer", "tea")),
    ("cancelled my alarm,", ("cancel_timer", None)),
    ("Liss my alarms,", ("list_timers", None)),
])
def test_what_whisper_makes_of_spoken_requests_is_read_too(heard, expected):
    assert as_expected(heard) == expected


@pytest.fixture(scope="module")
def voices(config, question_voice, piper):
    """Speakers of the requests, as 16 kHz arrays: two Kokoro voices (not the assistant's) and Piper."""
    from assistant.audio.files import resample
    from assistant.core.types import SAMPLE_RATE
    from assistant.engines.tts import load_kokoro

    bella = load_kokoro(dataclasses.replace(config, tts=dataclasses.replace(
        config.tts, kokoro=dataclasses.replace(config.tts.kokoro, voice="af_bella"))))
    yield {"kokoro bm_george": question_voice,
           "kokoro af_bella": lambda text: resample(bella.render_blocking(text), bella.sample_rate, SAMPLE_RATE),
           "piper joe": lambda text: resample(piper.render_blocking(text), piper.sample_rate, SAMPLE_RATE)}
    bella.close()


def test_spoken_requests_transcribed_by_whisper_hit_rate(voices, stt):
    """Every request, spoken by each voice, through the real Whisper and the intent layer. Prints the hit rate
    and each miss; at least 85 % must hit (Whisper mishears some words; that is the measure, not a defect)."""
    hits, misses = 0, []
    for voice, speak in voices.items():
        for text, expected in REQUESTS:
            heard = asyncio.run(stt.final(speak(text)))
            got = as_expected(heard)
            if got == expected:
                hits += 1
            else:
                misses.append(f"{voice}: {text!r} heard as {heard!r} -> {got}")
    total = len(voices) * len(REQUESTS)
    print(f"\nintent hit rate on spoken requests: {hits}/{total} = {hits / total:.0%} "
          f"({len(REQUESTS)} phrasings x {', '.join(voices)})")
    print("\n".join(misses))
    assert hits / total >= 0.85, misses
