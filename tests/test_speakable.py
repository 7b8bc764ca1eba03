"""speakable(): markup, addresses and decoration go; symbols that carry meaning stay."""

from __future__ import annotations

import pytest

from assistant.core.speakable import speakable


@pytest.mark.parametrize("text, said", [
    ("Then 4 * 5 = 20, as expected.", "Then 4 * 5 = 20, as expected."),
    ("The area is r**2 times pi.", "The area is r**2 times pi."),
    ("Multiply 2*3*4 first.", "Multiply 2*3*4 first."),
    ("Raise DEFAULT_TIMEOUT_SECONDS a bit.", "Raise DEFAULT_TIMEOUT_SECONDS a bit."),
    ("Delete every *.log file.", "Delete every *.log file."),
    ("The sum a + b ~ c holds.", "The sum a + b ~ c holds."),
])
def test_symbols_that_are_not_emphasis_stay(text, said):
    assert speakable(text) == said


@pytest.mark.parametrize("text, said", [
    ("That is **really** good.", "That is really good."),
    ("That is __really__ good.", "That is really good."),
    ("That is *quite* good.", "That is quite good."),
    ("That is _quite_ good.", "That is quite good."),
    ("The price was ~~ten~~ eight euros.", "The price was ten eight euros."),
    ("A ***loud*** word.", "A loud word."),
    ("**Both _kinds_ at once**, nested.", "Both kinds at once, nested."),
    ("**A bold line cut here.", "A bold line cut here."),  # the other half is in the next chunk
    ("and ends here.** Next", "and ends here. Next"),
    ("*An italic sentence.", "An italic sentence."),
    ("The end of it._", "The end of it."),
])
def test_emphasis_markers_go(text, said):
    assert speakable(text) == said


@pytest.mark.parametrize("text, said", [
    ("## Opening hours ##", "Opening hours"),
    ("### Prices #", "Prices"),
    ("Use the C# language.", "Use the C# language."),
    ("Results\n=======\nAll good.", "Results All good."),
    ("Above\n---------\nBelow", "Above Below"),
    ("Part one.\n\n* * *\n\n***\n\nPart two.", "Part one. Part two."),
    ("Rock &amp; roll &lt;3 &quot;live&quot;", 'Rock & roll <3 "live"'),
    ("Step 2️⃣ comes after step 1️⃣.", "Step 2 comes after step 1."),
])
def test_headings_rules_entities_and_keycaps(text, said):
    assert speakable(text) == said


@pytest.mark.parametrize("address", [
    "ws://localhost:8765/socket", "wss://chat.example.net/live", "s3://my-bucket/photos/cat.jpg",
    "file:///home/me/notes.txt", "ftp://files.example.org/pub/readme", "gs://data/set.csv",
    "https://example.com/page?q=1",
])
def test_addresses_of_any_scheme_are_not_read(address):
    assert speakable(f"It is at {address}. Go there.") == "It is at. Go there."


def test_mailto_says_just_the_address():
    assert speakable("Write to mailto:ann@example.com today.") == "Write to ann@example.com today."
