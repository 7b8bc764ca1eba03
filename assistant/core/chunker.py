"""A streaming LLM reply cut into speakable chunks for TTS: the first at a clause, the rest at sentence ends.

The model streams arbitrary fragments ("Sur", "e, I", " can help. Dr", ". Smith is…"). `ClauseChunker` keeps
the text not yet spoken in a pending buffer and scans each character once: a cut is only ever decided from the
text itself, never from where the fragments happen to split, so any fragmentation of a reply gives the same
chunks. When a decision needs the next character (is "." followed by whitespace? by a lowercase word?) the
chunker waits for the next fragment, and `flush()` settles it at the end of the stream.

Cuts fall only where whitespace follows a token (or at a newline, or at a code fence), so a chunk never splits
a word, a number ("3.50", "1,000"), a version ("v1.2.3") or a URL. Every chunk goes through `speakable()`;
code fences (```) are tracked across fragments here, since a fence usually spans many sentences: nothing
inside one is spoken, even when the stream ends inside it.
"""

from __future__ import annotations

import re

from assistant.core.abbreviations import (
    ABBREVIATIONS,
    BANG_NAMES,
    BEFORE_NUMBER,
    MONTH_NAMES,
    SENTENCE_STARTERS,
    TITLES,
)
from assistant.core.speakable import speakable

_CLOSERS = "\"')]}*_`”’»」』）】》〉"  # may stand between a sentence's or clause's mark and what follows
_OPENERS = "\"'([{*_`“‘«「『（【《〈"
_SENTENCE_MARKS = "!?。！？؟।॥"  # "." and "…" are judged on their own
_CLAUSE_MARKS = ",;:，；：、،؛"
# Marks that end a token even with no whitespace after them: Chinese and Japanese have no spaces at all.
_UNSPACED_MARKS = frozenset("。！？，；：、؟،؛।॥")
_CJK_CHARS_PER_WORD = 2  # Chinese and Japanese have no spaces: count every two characters as one word
_APOSTROPHE = re.compile("['’]")
_DASHES = frozenset("-–—")  # a token of 1-3 of these, spaced, mid-line: a dash (at a line start: a list or rule)
_FENCE_RUN = 3  # a run of this many backticks or more opens or closes a code fence, as in speakable()
# Put in front of a chunk that starts mid-line: speakable() strips list markers, headings and quote marks at
# the start of its text, which for such a chunk ("… options. 1) Use the CLI.") are words of the sentence.
# A private-use character is no markup and speakable() drops it like any other symbol.
_MID_LINE = "\ue000"

# Where a token's mark puts it.
_NONE, _CLAUSE, _SENTENCE, _WAIT = range(4)
# What a word before "." is: a title ("Dr."), an abbreviation or initial ("etc.", "U.S.", "J."), or neither.
_TITLE, _ABBREVIATION, _PLAIN = range(3)
# Markdown link state, so that no cut falls inside "[text](url)" (speakable() needs it whole).
_NO_LINK, _LINK_TEXT, _LINK_CLOSED, _LINK_URL = range(4)


def _is_cjk(char: str) -> bool:
    """A Chinese character or Japanese kana: a script written without spaces between words."""
    return "\u3040" <= char <= "\u30ff" or "\u3400" <= char <= "\u4dbf" or "\u4e00" <= char <= "\u9fff"


def _is_initialism(word: str) -> bool:
    """A single letter (not the pronoun "I") or dotted letters: "J", "x", "U.S", "e.g", "z.B", "EE.UU"."""
    if len(word) == 1:
        return word.isalpha() and word != "I"
    parts = word.split(".")
    return len(parts) > 1 and all(0 < len(part) <= 3 and part.isalpha() for part in parts)


def _word_kind(word: str) -> int:
    lower = word.lower()
    if lower in TITLES:
        return _TITLE
    if lower in ABBREVIATIONS or _is_initialism(word):
        return _ABBREVIATION
    return _PLAIN


def _say(raw: str, at_line_start: bool) -> str:
    """speakable() of one chunk's raw text, read as the reply's text there (at a line start or mid-line)."""
    if at_line_start or "\n" in raw[: len(raw) - len(raw.lstrip())]:
        return speakable(raw)
    said = speakable(_MID_LINE + raw).replace(_MID_LINE, " ").strip()
    return said if any(c.isalnum() for c in said) else ""


class ClauseChunker:
    """Feed the LLM's text deltas, get back the chunks to speak, in order; `flush()` at the end of the reply.

    - First chunk: at the first clause boundary (`,` `;` `:` a spaced dash, or a sentence end) once it holds
      `first_min_words` words, or after `first_max_words` complete words with no boundary. A sentence end
      always cuts ("Sure." alone).
    - Later chunks: at sentence ends (`.` `!` `?` `…` followed by whitespace, or a newline); a sentence past
      `max_words` words is cut at its last clause boundary, or else at a word boundary.
    - Chinese, Japanese, Arabic and Hindi marks (`。！？，、` `؟،` `।`) need no whitespace after them; every
      two Chinese or Japanese characters count as a word.
    - A "." does not end a sentence after a title ("Dr.", "Gen."), a list number at a line start ("1."), or
      before a lowercase word ("..." mid-sentence, unknown abbreviations); after an abbreviation or an
      initial ("etc.", "U.S.", "J.") it ends one only before a word that typically opens a sentence ("It",
      "Could" but not "Army"): see `abbreviations`. Inside a number, version, URL or email it is not
      followed by whitespace anyway. "!" and "?" before a lowercase word go on (`asked "why?" and left`).
    - Chunks are `speakable()` text: markdown, URLs, code and emoji removed, whitespace normalized; a chunk
      with nothing speakable left is dropped.

    After `flush()` the chunker starts afresh, ready for the next reply.
    """

    def __init__(self, first_min_words: int = 2, first_max_words: int = 6, max_words: int = 40) -> None:
        if not 1 <= first_min_words <= first_max_words:
            raise ValueError(f"need 1 <= first_min_words <= first_max_words, got {first_min_words}, "
                             f"{first_max_words}")
        if max_words < 1:
            raise ValueError(f"max_words must be at least 1, got {max_words}")
        self.first_min_words = first_min_words
        self.first_max_words = first_max_words
        self.max_words = max_words
        self._ticks = ""
        self._start_reply()

    def feed(self, delta: str) -> list[str]:
        """The chunks this delta completes, in order (often none)."""
        out: list[str] = []
        text = self._ticks + delta
        self._ticks = ""
        pos = 0
        while pos < len(text):
            tick = text.find("`", pos)
            if tick < 0:
                self._take(text[pos:], out)
                break
            end = tick + 1
            while end < len(text) and text[end] == "`":
                end += 1
            if end == len(text):  # the run of backticks may go on in the next delta: keep it until then
                self._take(text[pos:tick], out)
                self._ticks = text[tick:]
                break
            if end - tick >= _FENCE_RUN:
                self._take(text[pos:tick], out)
                self._toggle_fence(out)
            else:  # inline code: speakable() handles it within a chunk
                self._take(text[pos:end], out)
            pos = end
        return out

    def finish(self) -> list[str]:
        """At the end of the stream: whatever is left, as chunks. The chunker is then ready for a new reply."""
        out: list[str] = []
        if len(self._ticks) < _FENCE_RUN:
            self._take(self._ticks, out)  # nothing if inside a fence
        self._ended = True  # a decision that waited for the next word can now be made
        self._advance(out)
        self._cut(len(self._pending), out)
        self._start_reply()
        return out

    # -- state -------------------------------------------------------------------------------------------

    def _start_reply(self) -> None:
        self._pending = ""  # text received and not yet cut off into a chunk (never any fenced code)
        self._ticks = ""  # backticks at the end of the last delta, whose run is not known to be complete yet
        self._in_fence = False
        self._first_done = False  # a chunk has been spoken: the first-chunk rules no longer apply
        self._at_line_start = True  # the pending text begins at a line start (the reply's start)
        self._ended = False  # the stream has ended: no more text will come
        self._restart_scan(line_text=False)

    def _restart_scan(self, line_text: bool) -> None:
        """Scan state for `_pending` from its start (after a cut, the remainder is scanned again)."""
        self._scan = 0  # next index of `_pending` to look at
        self._token_start = -1  # start of the token being read, -1 between tokens
        self._token_alnum = False  # the token has a letter or digit (not CJK): it counts as a word
        self._token_cjk = 0  # CJK characters in the token: every _CJK_CHARS_PER_WORD count as a word
        self._words = 0  # words complete before the token being read
        self._line_text = line_text  # the current line has text before the token being read
        self._link = _NO_LINK
        self._last_clause = 0  # cut index after the last clause boundary (0: none yet)
        self._last_gap = 0  # cut index after the last complete token outside a link (0: none yet)
        self._has_text = False  # some non-whitespace has been scanned

    # -- input ---------------------------------------------------------------------------------------------

    def _take(self, text: str, out: list[str]) -> None:
        if text and not self._in_fence:
            self._pending += text
            self._advance(out)

    def _toggle_fence(self, out: list[str]) -> None:
        if not self._in_fence:
            self._cut(len(self._pending), out)  # what comes before a fence is said now, not after the code
        self._in_fence = not self._in_fence

    def _advance(self, out: list[str]) -> None:
        """Scan the pending text from where the last scan stopped, cutting chunks off as rules allow."""
        k = self._scan
        while k < len(self._pending):
            char = self._pending[k]
            if not char.isspace():
                if self._token_start >= 0 and self._ends_unspaced(k):
                    cut = self._end_token(k)
                    if cut:
                        self._cut(cut, out)
                        k = 0
                        continue
                self._read(char, k)
                k += 1
                continue
            if self._token_start >= 0:
                cut = self._end_token(k)
                if cut is None:  # the decision needs text not received yet
                    break
                if cut:
                    self._cut(cut, out)
                    k = 0
                    continue
            if char == "\n":
                if self._has_text:  # a line break always ends a chunk
                    self._cut(k, out)
                    k = 0
                    continue
                self._line_text = False
                self._link = _NO_LINK
            k += 1
        self._scan = k

    def _read(self, char: str, k: int) -> None:
        """One non-whitespace character of a token."""
        if self._token_start < 0:
            self._token_start = k
            self._token_alnum = False
            self._token_cjk = 0
        if _is_cjk(char):
            self._token_cjk += 1
        elif char.isalnum():
            self._token_alnum = True
        self._has_text = True
        if self._link == _LINK_CLOSED:
            self._link = _LINK_URL if char == "(" else _NO_LINK
        if self._link == _NO_LINK and char == "[":
            self._link = _LINK_TEXT
        elif self._link == _LINK_TEXT and char == "]":
            self._link = _LINK_CLOSED
        elif self._link == _LINK_URL and char == ")":
            self._link = _NO_LINK

    def _ends_unspaced(self, k: int) -> bool:
        """The token before `k` ends in a mark that needs no whitespace after it ("好。" before "我")."""
        if self._pending[k] in _CLOSERS or self._pending[k] in _UNSPACED_MARKS:
            return False  # the mark's closing quote or a run of marks ("？！") still belongs to the token
        core = self._pending[self._token_start:k].rstrip(_CLOSERS)
        return bool(core) and core[-1] in _UNSPACED_MARKS

    # -- decisions -----------------------------------------------------------------------------------------

    def _end_token(self, k: int) -> int | None:
        """The token before whitespace at `k` is complete: where to cut (0: nowhere yet), None to wait."""
        in_link = self._link in (_LINK_TEXT, _LINK_URL)
        kind = _NONE if in_link else self._judge(self._pending[self._token_start:k], k)
        if kind == _WAIT:
            return None
        words = self._words + self._token_alnum + -(-self._token_cjk // _CJK_CHARS_PER_WORD)
        if kind == _SENTENCE:
            return k
        if kind == _CLAUSE:
            if not self._first_done and words >= self.first_min_words:
                return k
            self._last_clause = k
        self._words = words
        self._token_start = -1
        self._line_text = True
        if self._link == _LINK_CLOSED:
            self._link = _NO_LINK
        if not in_link:
            self._last_gap = k
        if not self._first_done:
            return k if words >= self.first_max_words and not in_link else 0
        if words >= self.max_words:
            return self._last_clause or self._last_gap or k
        return 0

    def _judge(self, token: str, k: int) -> int:
        """What the mark ending `token` (followed by whitespace, or any text after an unspaced mark, at `k`)
        makes of it."""
        if len(token) <= 3 and all(c in _DASHES for c in token):
            return _CLAUSE if self._line_text else _NONE
        core = token.rstrip(_CLOSERS)
        if not core:
            return _NONE
        mark = core[-1]
        if mark in _SENTENCE_MARKS:
            return self._judge_exclamation(core, k) if mark in "!?" else _SENTENCE
        if mark in _CLAUSE_MARKS:
            return _CLAUSE
        if mark == "…" or core.endswith(".."):
            following = self._peek(k)
            if following is None:
                return _WAIT
            return _CLAUSE if following.islower() else _SENTENCE  # "Well... maybe" goes on
        if mark != ".":
            return _NONE
        return self._judge_period(core[:-1].strip(_OPENERS + _CLOSERS), k)

    def _judge_exclamation(self, core: str, k: int) -> int:
        """ "!" or "?": a sentence end, unless a lowercase word follows (`asked "why?" and left`) or it is
        part of a name ("Yahoo! Finance")."""
        following = self._peek(k)
        if following is None:
            return _WAIT
        if following.islower():
            return _CLAUSE
        if core[:-1].strip(_OPENERS).lower() in BANG_NAMES and following.isalpha():
            return self._sentence_if_opener_follows(k)
        return _SENTENCE

    def _judge_period(self, word: str, k: int) -> int:
        """ "." after `word`: a sentence end unless the word is an abbreviation, an initial or a list number,
        or the next word does not open a sentence."""
        if word.isdigit() and not self._line_text:
            return _NONE  # "1." opening a numbered list item
        following = self._peek(k)
        if following is None:
            return _WAIT
        if following.islower():
            return _NONE  # "..." mid-sentence, unknown abbreviations: "see fig. three"
        kind = _word_kind(word)
        if following.isdigit():  # "No. 5", "Jan. 3", "ca. 10" go on; "It costs 3. 5 came." ends
            return _NONE if kind != _PLAIN or word.lower() in BEFORE_NUMBER else _SENTENCE
        if kind == _TITLE:
            return _NONE
        if not following.isalpha():  # a bracket, a quote: "etc. (see below)" goes on, "done. (Later…)" ends
            return _SENTENCE if kind == _PLAIN else _NONE
        if kind == _ABBREVIATION:  # "the U.S. Army" goes on, "…to the U.S. Could you…" ends
            return self._sentence_if_opener_follows(k)
        if word.isdigit():  # a German date: "am 3. Mai"
            following_word = self._next_word(k)
            return _WAIT if following_word is None else _NONE if following_word.lower() in MONTH_NAMES \
                else _SENTENCE
        return _SENTENCE

    def _sentence_if_opener_follows(self, k: int) -> int:
        """After an abbreviation or initial: a sentence end only before a word that typically opens one."""
        following_word = self._next_word(k)
        if following_word is None:
            return _WAIT
        if following_word.endswith("."):
            return _NONE  # another initial: "J. A. Smith"
        return _SENTENCE if _APOSTROPHE.split(following_word)[0].lower() in SENTENCE_STARTERS else _NONE

    def _next_word(self, k: int) -> str | None:
        """The letters of the word after the spaces from `k` on (with its "." if it is a single letter),
        None if its end has not been received yet."""
        text = self._pending
        start = k
        while start < len(text) and text[start].isspace():
            start += 1
        end = start
        while end < len(text) and (text[end].isalpha() or text[end] in "'’"):
            end += 1
        if end == len(text) and not self._ended:
            return None
        return text[start:end] + ("." if end - start == 1 and text[end:end + 1] == "." else "")

    def _peek(self, k: int) -> str | None:
        """The first character from `k` on that is not a space ("\\n" counts), None if not received yet."""
        text = self._pending
        while k < len(text) and text[k].isspace() and text[k] != "\n":
            k += 1
        return text[k] if k < len(text) else None

    # -- output --------------------------------------------------------------------------------------------

    def _cut(self, end: int, out: list[str]) -> None:
        """Cut `_pending[:end]` off as a chunk (dropped if nothing in it is speakable); rescan the rest."""
        raw, self._pending = self._pending[:end], self._pending[end:]
        at_line_start, self._at_line_start = self._at_line_start, False
        self._restart_scan(line_text=True)
        if said := _say(raw, at_line_start):
            out.append(said)
            self._first_done = True
