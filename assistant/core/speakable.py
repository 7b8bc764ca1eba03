"""Text as it should be spoken: no markdown, code, URLs or emoji read aloud, and nothing else lost.

Markup is removed only where it is markup: `2 * 3`, `x**2`, `MAX_VALUE` and `*.py` keep their symbols, since
emphasis markers come in pairs that hug the words they mark ("**bold**", "_italic_", "~~struck~~").
"""

from __future__ import annotations

import html
import re
import unicodedata

_CODE_FENCE = re.compile(r"```.*?(```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# Any scheme ("https://", "ws://", "s3://", "file:///") or a bare "www.": an address is never read out.
_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://|\bwww\.)\S*[^\s.,;:!?)]", re.IGNORECASE)
_MAILTO = re.compile(r"\bmailto:(?=\S)", re.IGNORECASE)  # the address after it is said like any email
_HEADING_CLOSE = re.compile(r"^(\s{0,3}#{1,6}\s.*?)\s+#+[ \t]*$", re.MULTILINE)  # "## Title ##"
_LINE_MARKUP = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]*-{3,}[\s:|-]*\|?\s*$", re.MULTILINE)
_THEMATIC_BREAK = re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)  # "* * *", "___"
# Emphasis: a marker run, the marked text starting and ending with a non-space, the same run again; no word
# character outside either run (so "2*3*4" and "snake_case_name" are no emphasis).
_MARKER = r"\*{1,3}|_{1,3}|~~"
_EMPHASIS = re.compile(rf"(?<![\w*~])({_MARKER})(?=[^\s*_~])(.+?)(?<=[^\s*_~])\1(?![\w*~])")
# Half a pair, left when a chunk cut fell between the two runs ("**Bold start." … "end.**").
_STRAY_OPENER = re.compile(rf"(?<![\w*~])({_MARKER})(?=[^\W_])")
_STRAY_CLOSER = re.compile(rf"(?<=[^\s*_~])({_MARKER})(?![\w*~])")
_SYMBOL_RUN = re.compile(r"([-=*_~#+<>|/\\])\1{2,}")  # "=====", "-----", "***": rules and decoration
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_MARK = re.compile(r"\s+([.,;:!?])")
_INVISIBLE = "\u200d\ufe0f\u20e3"  # emoji joiner, emoji presentation, keycap ("1️⃣" is said "1")


def _is_emoji_or_symbol(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk", "Cs", "Co", "Me") or char in _INVISIBLE


def _without_emphasis(text: str) -> str:
    for _ in range(3):  # nested emphasis ("**bold _and italic_**") comes off one layer at a time
        text, found = _EMPHASIS.subn(r"\2", text)
        if not found:
            break
    return _STRAY_CLOSER.sub("", _STRAY_OPENER.sub("", text))


def speakable(text: str) -> str:
    """The words of `text` a voice should say; "" when nothing speakable is left."""
    text = _CODE_FENCE.sub(" ", text)
    text = html.unescape(text)  # "&amp;" is "&", "&nbsp;" a space
    text = _LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _MAILTO.sub("", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _TABLE_RULE.sub(" ", text)
    text = _THEMATIC_BREAK.sub(" ", text)
    text = _HEADING_CLOSE.sub(r"\1", text)
    text = _LINE_MARKUP.sub("", text)
    text = _SYMBOL_RUN.sub(" ", text)
    text = _without_emphasis(text)
    text = text.replace("|", ", ")
    text = "".join(" " if _is_emoji_or_symbol(c) else c for c in text)
    text = _SPACE_BEFORE_MARK.sub(r"\1", _SPACES.sub(" ", text)).strip()
    return text if any(c.isalnum() for c in text) else ""
