"""Where a sentence ends: abbreviations, initials, "!" and "?" inside a sentence, and scripts without spaces.

Every case is also checked fed character by character and in random fragments: the chunks never depend on
how the stream is split.
"""

from __future__ import annotations

import random

import pytest

from assistant.core.chunker import ClauseChunker
from tests.test_chunker import chunks_of, random_fragments


def same_however_fed(text: str) -> list[str]:
    whole = chunks_of([text])
    assert chunks_of(list(text)) == whole
    for seed in range(3):
        assert chunks_of(random_fragments(text, random.Random(seed), max_len=5)) == whole, seed
    return whole


def sentences_after_ok(text: str) -> list[str]:
    """The chunks of "Ok. <text>" after the first: the first-chunk rules are out of the way."""
    chunks = same_however_fed("Ok. " + text)
    assert chunks[0] == "Ok."
    return chunks[1:]


@pytest.mark.parametrize("sentence", [
    "Our guide led us up Mt. Hood at dawn.",
    "The chart in Fig. 7 shows it.",
    "The lake is ca. 40 meters deep.",
    "The fair opens on Sept. 9 this year.",
    "Umbrella Corp. Staff were told on Friday.",
    "Please read clause No. 12 twice.",
    "Gen. Ortiz and Col. Reyes saluted Lt. Park and Sgt. Boyle.",
    "Capt. Nemo asked Rev. Adams and the Hon. Mrs. Gray to dine.",
    "Gov. Lee thanked Sen. Ruiz, Rep. Chu and Pres. Obama.",
    "The shop on Elm Ave. Near Sunset Blvd. Opens late.",
    "Wonka Co. Sweets and Stark Ltd. Engines merged with Dept. Stores.",
    "The table on p. 9 of vol. 2 and pp. 30 to 35 agree.",
    "Cf. Kim et al. Results in the second ed. Appendix.",
    "The oven needs 20 min. Preheating and the max. Setting.",
    "Sie kaufte z.B. Brot, bzw. Milch usw. Gestern, für ca. 10 Euro.",
    "Das Formular Nr. 4 kam am 3. Mai an.",
    "M. Leroy et Mme. Petit vont à la gare.",
    "El Sr. Ruiz y la Sra. Vega llegaron tarde.",
    "Bring pens, paper, etc. (but no ink) and the U.S. \"flag\" too.",
])
def test_abbreviations_and_titles_do_not_end_a_sentence(sentence):
    assert sentences_after_ok(sentence + " Fine.") == [sentence, "Fine."]


@pytest.mark.parametrize("text, expected", [
    ("My sister moved to the U.S. Would you like her address?",
     ["My sister moved to the U.S.", "Would you like her address?"]),
    ("He hates flying and so do I. Trains are nicer.", ["He hates flying and so do I.", "Trains are nicer."]),
    ("The correct option is C. Then we go on.", ["The correct option is C.", "Then we go on."]),
    ("The shop opens at 9 a.m. We should be early.", ["The shop opens at 9 a.m.", "We should be early."]),
    ("Pens, paper, etc. It all helps.", ["Pens, paper, etc.", "It all helps."]),
    ("They work at Hooli Inc. Their office is big.", ["They work at Hooli Inc.", "Their office is big."]),
])
def test_a_sentence_can_end_in_an_initialism_a_letter_or_an_abbreviation(text, expected):
    assert sentences_after_ok(text) == expected


@pytest.mark.parametrize("sentence", [
    "Novels by J. R. R. Tolkien and E. M. Forster.",
    "The U.S. Coast Guard came at 5 p.m. Sharp.",
    "She wrote to the U.K. Government.",
    "A speech by John F. Kennedy in Berlin.",
    "The letters J. A. Smith signed.",
])
def test_an_initial_before_a_name_goes_on(sentence):
    assert sentences_after_ok(sentence + " Fine.") == [sentence, "Fine."]


def test_a_period_after_an_abbreviation_waits_for_the_whole_next_word():
    chunker = ClauseChunker()
    assert chunker.feed("Ok. I live in the U.S.") == ["Ok."]
    assert chunker.feed(" Wh") == []  # "Whatever" or "When"?
    assert chunker.feed("en") == []
    assert chunker.feed(" do you?") == ["I live in the U.S."]
    assert chunker.finish() == ["When do you?"]


def test_the_end_of_the_stream_settles_a_waiting_abbreviation():
    assert chunks_of(["Ok. Pens, paper, etc. It"]) == ["Ok.", "Pens, paper, etc.", "It"]
    assert chunks_of(["Ok. We tried 3. Nothing"]) == ["Ok.", "We tried 3.", "Nothing"]


@pytest.mark.parametrize("text, expected", [
    ('She asked "ready?" before we left. Then quiet.', ['She asked "ready?" before we left.', "Then quiet."]),
    ('He shouted "run!" and we ran. Ok.', ['He shouted "run!" and we ran.', "Ok."]),
    ("Search Yahoo! Answers for it. Or not.", ["Search Yahoo! Answers for it.", "Or not."]),
    ("We watched Jeopardy! with Grandma. Nice.", ["We watched Jeopardy! with Grandma.", "Nice."]),
    ("I love Yahoo! It is fast.", ["I love Yahoo!", "It is fast."]),
    ("Done? Yes! Wait?! No.", ["Done?", "Yes!", "Wait?!", "No."]),
])
def test_question_and_exclamation_marks_inside_a_sentence(text, expected):
    assert sentences_after_ok(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("好的，我马上帮你查。明天会下雨！记得带伞？", ["好的，我马上帮你查。", "明天会下雨！", "记得带伞？"]),
    ("上海是一座很大的城市，人口很多。你喜欢吗？", ["上海是一座很大的城市，", "人口很多。", "你喜欢吗？"]),
    ("了解しました。駅まで歩きます。", ["了解しました。", "駅まで歩きます。"]),
    ("他回答：「可以。」我们就出发了。", ["他回答：", "「可以。」", "我们就出发了。"]),
    ("أهلا بك، هل تحتاج مساعدة؟ سأساعدك.", ["أهلا بك،", "هل تحتاج مساعدة؟", "سأساعدك."]),
    ("ठीक है। मैं मदद करूँगा॥ धन्यवाद।", ["ठीक है।", "मैं मदद करूँगा॥", "धन्यवाद।"]),
])
def test_sentence_and_clause_marks_of_other_scripts(text, expected):
    assert same_however_fed(text) == expected


def test_a_chinese_reply_gives_its_first_chunk_at_its_first_clause():
    chunker = ClauseChunker()
    assert chunker.feed("好") == []
    assert chunker.feed("的") == []
    assert chunker.feed("，") == []  # two characters count as one word: too short for a first chunk
    assert chunker.feed("我来看") == []
    assert chunker.feed("一下，") == []  # a full-width comma needs no space after it ...
    assert chunker.feed("这") == ["好的，我来看一下，"]  # ... only the next character
    assert chunker.feed("个问题很简单。答") == ["这个问题很简单。"]
    assert chunker.finish() == ["答"]


def test_a_long_chinese_sentence_is_cut_at_a_clause_by_max_words():
    clause = "我们今天去公园散步，"  # 9 characters and a comma: 5 words
    chunks = same_however_fed("好。" + clause * 10 + "然后回家。")
    assert chunks == ["好。", clause * 8, clause * 2 + "然后回家。"]  # max_words=40: 8 clauses
