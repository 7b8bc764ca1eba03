"""ClauseChunker: a streaming LLM reply cut into speakable chunks, the same however the stream is fragmented."""

from __future__ import annotations

import random
import re

import pytest

from assistant.core.chunker import ClauseChunker
from assistant.core.speakable import speakable

REPLIES = [
    # Plain prose, abbreviations, numbers.
    "Sure, I can help with that. Dr. Smith said the meeting moved to 3 p.m. on Friday. It costs 3.50 dollars, "
    "i.e. less than last year. Version v1.2.3 fixes the bug, e.g. the crash on start. J. R. R. Tolkien wrote "
    "it in 1954... and it sold well. Mrs. Jones vs. Mr. Brown: who wins? Nobody knows! See No. 5 for details.",
    # Markdown: heading, numbered and bulleted lists, bold, italics, emoji, inline code.
    "## Getting started 🚀\n\nHere are the steps:\n\n1. **Install** the package with `pip install foo`.\n"
    "2. Open the *settings* file, then set `debug = true`.\n3. Restart the app.\n\n- Fast\n- Cheap\n"
    "- Reliable 👍\n\nThat's it! Let me know if you need anything else.",
    # Links, URLs, emails, a dash, a table.
    "You can read more in the [official guide, part one](https://example.com/docs/guide.html) — it is short. "
    "Or visit www.example.org/a.b?x=1 directly. Questions go to help@example.com. Thanks - and good luck.\n\n"
    "| Name | Price |\n|------|-------|\n| Tea | 2.50 |\n| Coffee | 3.10 |\n",
    # One long sentence without a period, clauses inside.
    "When you travel to the mountains in winter you should always bring warm clothes and enough water and "
    "a good map because the weather can change quickly and the paths may be covered in snow, which makes "
    "it hard to find your way back to the village before it gets dark and cold and the shops close for the "
    "night and nobody is around to help you",
    # Short answers and ellipses, no final punctuation.
    "No. That isn't right… Well, actually… it depends on the version. Hmm... let me think. OK\nThe answer "
    "is forty-two, approx. anyway",
]

FENCED = (
    "Here is an example:\n\n```python\nprint('Hello. World.')\nx = 1.5  # Dr. Who, e.g. this\n```\n\n"
    "Run it with `python x.py`. It prints a greeting. Then try this one:\n```\nrm -rf build. Done!\n```\n"
    "That's all."
)


def chunks_of(deltas, **kwargs) -> list[str]:
    chunker = ClauseChunker(**kwargs)
    out = []
    for delta in deltas:
        out += chunker.feed(delta)
    return out + chunker.finish()


def random_fragments(text: str, rng: random.Random, max_len: int = 8) -> list[str]:
    pieces, pos = [], 0
    while pos < len(text):
        size = rng.randint(1, max_len)
        pieces.append(text[pos:pos + size])
        pos += size
    return pieces


def no_space(text: str) -> str:
    return re.sub(r"\s+", "", text)


# -- any fragmentation, same chunks --------------------------------------------------------------------


@pytest.mark.parametrize("text", [*REPLIES, FENCED])
def test_whole_characters_and_random_fragments_give_the_same_chunks(text):
    whole = chunks_of([text])
    assert whole
    assert chunks_of(list(text)) == whole
    for seed in range(5):
        assert chunks_of(random_fragments(text, random.Random(seed))) == whole, seed
    assert chunks_of(["", *list(text), ""]) == whole  # empty deltas change nothing


def test_chunks_are_normalized_and_never_empty():
    for text in [*REPLIES, FENCED]:
        for chunk in chunks_of(list(text)):
            assert chunk and chunk == chunk.strip() and "  " not in chunk and "\n" not in chunk


@pytest.mark.parametrize("index", range(len(REPLIES)))
def test_joined_chunks_are_the_whole_reply_made_speakable_over_many_fragmentations(index):
    text = REPLIES[index]
    expected = no_space(speakable(text))
    whole = chunks_of([text])
    assert no_space("".join(whole)) == expected
    rng = random.Random(1000 + index)
    for trial in range(300):
        deltas = random_fragments(text, rng, max_len=rng.choice([1, 3, 12, 40]))
        got = chunks_of(deltas)
        assert got == whole, trial
        assert no_space("".join(got)) == expected, trial


# -- the first chunk -----------------------------------------------------------------------------------


def test_first_chunk_at_a_comma_with_enough_words_then_sentences():
    text = "Sure thing, here is what I found, in short. It works, mostly. Done"
    assert chunks_of([text]) == ["Sure thing,", "here is what I found, in short.", "It works, mostly.", "Done"]


def test_first_chunk_skips_a_boundary_before_enough_words():
    assert chunks_of(["Well, I think, that it is fine. Yes."]) == ["Well, I think,", "that it is fine.", "Yes."]
    assert chunks_of(["Well, I think so."], first_min_words=4) == ["Well, I think so."]


def test_first_chunk_comes_out_as_soon_as_its_boundary_is_seen():
    chunker = ClauseChunker()
    assert chunker.feed("Sure th") == []
    assert chunker.feed("ing,") == []  # "thing,5" would be no boundary: wait for the whitespace
    assert chunker.feed(" here") == ["Sure thing,"]
    assert chunker.feed(" it is.") == []
    assert chunker.finish() == ["here it is."]


def test_first_chunk_after_six_words_without_a_boundary():
    chunker = ClauseChunker()
    assert chunker.feed("one two three four five six") == []  # "six" may go on: "sixty"
    assert chunker.feed(" ") == ["one two three four five six"]
    assert chunker.feed("seven eight nine, ten eleven.") == []
    assert chunker.feed(" ") == []  # "eleven. then" would go on
    assert chunker.feed("Twelve") == ["seven eight nine, ten eleven."]
    assert chunker.finish() == ["Twelve"]
    assert chunks_of(["a b c d e f g h"], first_max_words=3) == ["a b c", "d e f g h"]


@pytest.mark.parametrize("word", ["Sure.", "Hi!", "Really?", "Okay…"])
def test_a_one_word_sentence_is_a_first_chunk_of_its_own(word):
    chunker = ClauseChunker()
    assert chunker.feed(word) == []
    assert chunker.feed(" I can do that, of course.") == [word]
    assert chunker.finish() == ["I can do that, of course."]
    assert chunks_of([word]) == [word]


def test_spaced_dashes_are_clause_boundaries_for_the_first_chunk():
    assert chunks_of(["Honestly — truly — it depends. Yes."]) == ["Honestly — truly —", "it depends.", "Yes."]
    assert chunks_of(["Good question - it depends. Yes."]) == ["Good question -", "it depends.", "Yes."]
    assert chunks_of(["A well-known fact. Yes."]) == ["A well-known fact.", "Yes."]


def test_commas_and_colons_inside_numbers_are_no_boundaries():
    assert chunks_of(["It costs 1,000 dollars, sadly."]) == ["It costs 1,000 dollars,", "sadly."]
    assert chunks_of(["Open at 10:30 today: come."]) == ["Open at 10:30 today:", "come."]


# -- sentence ends ---------------------------------------------------------------------------------------


def test_later_chunks_end_at_sentences_not_clauses():
    text = "Sure. First, do this; then that: all of it. Wow! Really? Yes… Fine"
    assert chunks_of([text]) == ["Sure.", "First, do this; then that: all of it.", "Wow!", "Really?", "Yes…", "Fine"]


@pytest.mark.parametrize("text, expected", [
    ("Ok. Dr. Smith and Mrs. Jones met Mr. Brown. Next", ["Ok.", "Dr. Smith and Mrs. Jones met Mr. Brown.", "Next"]),
    ("Ok. PROF. Lee vs. St. Louis, etc. Went home at 5 p.m. Today", ["Ok.", "PROF. Lee vs. St. Louis, etc. Went "
                                                                     "home at 5 p.m. Today"]),
    ("Ok. Made in the U.S. Army, approx. Ten. End", ["Ok.", "Made in the U.S. Army, approx. Ten.", "End"]),
    ("Ok. Fruit, e.g. apples, i.e. food. Next", ["Ok.", "Fruit, e.g. apples, i.e. food.", "Next"]),
    ("Ok. Fruit, E.G. Apples, I.E. Food. Next", ["Ok.", "Fruit, E.G. Apples, I.E. Food.", "Next"]),
    ("Ok. See No. 5 on the list. No. Not that.", ["Ok.", "See No. 5 on the list.", "No.", "Not that."]),
])
def test_abbreviations_do_not_end_a_sentence(text, expected):
    assert chunks_of([text]) == expected
    assert chunks_of(list(text)) == expected


def test_decimals_and_versions_do_not_end_a_sentence():
    text = "Ok. It costs 3.50 dollars. Next, install v1.2.3 or 2.0. Then 3. Done"
    assert chunks_of([text]) == ["Ok.", "It costs 3.50 dollars.", "Next, install v1.2.3 or 2.0.", "Then 3.", "Done"]


def test_initials_do_not_end_a_sentence():
    text = "Ok. J. R. R. Tolkien wrote it, and C. S. Lewis read it. The end."
    assert chunks_of(list(text)) == ["Ok.", "J. R. R. Tolkien wrote it, and C. S. Lewis read it.", "The end."]


def test_urls_and_emails_are_not_cut_and_urls_are_not_spoken():
    text = "Ok. Visit example.com/a.b or https://docs.example.com/v1.2/x.html now. Mail bob@mail.example.com. Bye"
    assert chunks_of(list(text)) == ["Ok.", "Visit example.com/a.b or now.", "Mail bob@mail.example.com.", "Bye"]


def test_an_ellipsis_before_a_lowercase_word_goes_on():
    text = "Ok. Well... maybe not. Hmm… let me see. So... The end."
    assert chunks_of(list(text)) == ["Ok.", "Well... maybe not.", "Hmm… let me see.", "So...", "The end."]


def test_a_period_before_a_lowercase_word_does_not_cut():
    assert chunks_of(["Ok. See fig. three for it. Next"]) == ["Ok.", "See fig. three for it.", "Next"]


def test_closing_quotes_and_brackets_after_the_mark_still_end_the_sentence():
    text = 'Ok. He said "stop." Then (quietly.) **Bold.** Type `exit.` She left.'
    assert chunks_of([text]) == ["Ok.", 'He said "stop."', "Then (quietly.)", "Bold.", "Type exit.", "She left."]


def test_windows_line_breaks():
    assert chunks_of(list("Hello there.\r\nSecond line\r\n\r\n- item")) == ["Hello there.", "Second line", "item"]


def test_a_period_waits_for_what_follows():
    chunker = ClauseChunker()
    assert chunker.feed("Sure.") == []
    assert chunker.feed(" ") == []  # "Sure. thing" would go on
    assert chunker.feed("It") == ["Sure."]
    assert chunker.feed(" is Dr.") == []
    assert chunker.feed(" Smith.") == []
    assert chunker.feed("\n") == ["It is Dr. Smith."]
    assert chunker.finish() == []


def test_newlines_end_chunks():
    assert chunks_of(["Title\nSome text here\n\nMore text"]) == ["Title", "Some text here", "More text"]


# -- markdown and code ----------------------------------------------------------------------------------------


def test_markdown_is_removed():
    text = "## Steps 🚀\n\n1. **Open** the app.\n2. Tap *Settings*, then `Save`.\n- Bullet 🎉 point\n> A quote"
    assert chunks_of(list(text)) == ["Steps", "Open the app.", "Tap Settings, then Save.", "Bullet point", "A quote"]


def test_a_numbered_list_marker_is_never_a_chunk_of_its_own():
    text = "1. First step here.\n2. Second step.\n10. Tenth"
    assert chunks_of(list(text)) == ["First step here.", "Second step.", "Tenth"]


def test_list_like_words_mid_line_are_kept():
    text = "There are two options. 1) Use the CLI. 2) Use the app. - Or not."
    assert chunks_of(list(text)) == ["There are two options.", "1) Use the CLI.", "2) Use the app.", "- Or not."]


def test_a_link_is_never_cut_and_its_text_is_spoken():
    text = "Ok. [Click here, or there. Now](https://x.com/a.b) to see it. Done."
    assert chunks_of(list(text)) == ["Ok.", "Click here, or there. Now to see it.", "Done."]
    assert chunks_of(["[See here, now](https://x.com) and there, ok."]) == ["See here, now and there,", "ok."]


def test_code_fences_spanning_deltas_are_never_spoken():
    expected = ["Here is an example:", "Run it with python x.py.", "It prints a greeting.", "Then try this one:",
                "That's all."]
    assert chunks_of([FENCED]) == expected
    for cut in range(len(FENCED)):  # every single place the stream can split
        assert chunks_of([FENCED[:cut], FENCED[cut:]]) == expected, cut
    for seed in range(50):
        assert chunks_of(random_fragments(FENCED, random.Random(seed), max_len=3)) == expected, seed


def test_backticks_split_one_by_one_still_open_and_close_a_fence():
    deltas = ["Look at this:", "\n", "`", "`", "`", "py\nprint('Hi. There.')\n", "`", "`", "`", "\nThat's it."]
    assert chunks_of(deltas) == ["Look at this:", "That's it."]


def test_text_before_a_fence_is_spoken_before_the_code_arrives():
    chunker = ClauseChunker()
    assert chunker.feed("Try this command ```") == []
    assert chunker.feed("ls -la. Or this.") == ["Try this command"]
    assert chunker.feed(" More code.") == []
    assert chunker.feed("``` and it lists files. Ok") == ["and it lists files."]
    assert chunker.finish() == ["Ok"]


def test_a_stream_ending_inside_a_fence_speaks_nothing_of_it():
    for deltas in (["Look:\n```\nrm -rf. Stop.\n"], ["Look:\n```bash\nrm -rf. Stop.``"], ["Look:\n``"]):
        assert chunks_of(deltas) == ["Look:"]


def test_inline_code_is_spoken_as_text():
    assert chunks_of(list("Run `make test`, then `make lint`. Done")) == ["Run make test,", "then make lint.", "Done"]


# -- long sentences and the end of the stream ----------------------------------------------------------------


def test_a_long_sentence_without_a_period_is_cut_at_max_words():
    words = [f"Word{i}" for i in range(100)]
    chunks = chunks_of(list("Ok. " + " ".join(words)), max_words=40)
    assert chunks[0] == "Ok."
    assert [len(c.split()) for c in chunks[1:]] == [40, 40, 20]
    assert " ".join(chunks[1:]) == " ".join(words)


def test_a_long_sentence_is_cut_at_its_last_clause_boundary():
    words = [f"W{i}" for i in range(30)]
    text = "Ok. " + " ".join(words[:15]) + ", " + " ".join(words[15:]) + " and more words here"
    chunks = chunks_of([text], max_words=20)
    assert chunks == ["Ok.", " ".join(words[:15]) + ",", " ".join(words[15:]) + " and more words here"]


def test_flush_speaks_what_is_left_without_final_punctuation():
    chunker = ClauseChunker()
    assert chunker.feed("Hello there my") == []
    assert chunker.feed(" friend") == []
    assert chunker.finish() == ["Hello there my friend"]
    assert chunker.finish() == []


def test_nothing_speakable_gives_no_chunks():
    assert chunks_of(["🎉 👍\n\n---\n```\ncode\n```\n"]) == []
    assert chunks_of([]) == []


def test_flush_starts_a_new_reply():
    chunker = ClauseChunker()
    assert chunker.feed("Sure. Second sentence, with a clause.") == ["Sure."]
    assert chunker.finish() == ["Second sentence, with a clause."]
    assert chunker.feed("Again, the first rules, they apply.") == ["Again, the first rules,"]


def test_pending_text_stays_small_over_a_long_reply():
    chunker = ClauseChunker()
    sentence = "This is sentence number {} of a very long reply, with a clause. "
    chunks = []
    largest = 0
    for i in range(2000):
        for char in sentence.format(i):
            chunks += chunker.feed(char)
            largest = max(largest, len(chunker._pending))
    chunks += chunker.finish()
    assert chunks[:3] == ["This is sentence number 0 of", "a very long reply, with a clause.",
                          "This is sentence number 1 of a very long reply, with a clause."]
    assert len(chunks) == 2001
    assert largest < 2 * len(sentence)


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        ClauseChunker(first_min_words=0)
    with pytest.raises(ValueError):
        ClauseChunker(first_min_words=4, first_max_words=3)
    with pytest.raises(ValueError):
        ClauseChunker(max_words=0)
