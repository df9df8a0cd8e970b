"""Long replies cut into WhatsApp-sized parts, at the most natural place that fits."""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from typing import Final

__all__ = ["WHATSAPP_TEXT_LIMIT", "split_text"]

#: The most characters Meta accepts in one text message body.
WHATSAPP_TEXT_LIMIT: Final = 4096

_PARAGRAPH: Final = re.compile(r"\n[^\S\n]*\n")
# Closing quotes and brackets belong to the sentence they end.
_SENTENCE: Final = re.compile(r"[.!?…][\"'”’)\]]*\s")
_ZWJ: Final = "\u200d"
_KEYCAP: Final = "\u20e3"


def split_text(text: str, limit: int = WHATSAPP_TEXT_LIMIT) -> list[str]:
    """Cut ``text`` into ordered, stripped, non-empty parts of at most ``limit`` characters.

    A text within the limit comes back whole (an empty one as no part). A longer one is cut
    at the last blank line that fits, else sentence end, else whitespace, else anywhere that
    keeps an emoji whole; only the whitespace at the cuts and the ends is lost.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    start = _skip_space(text, 0)
    while start < len(text):
        end = len(text) if len(text) - start <= limit else _cut(text, start, start + limit)
        part = text[start:end].rstrip()
        if part:
            parts.append(part)
        start = _skip_space(text, end)
    return parts


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _cut(text: str, start: int, end: int) -> int:
    """Where the part from ``start`` ends: after ``start``, at most ``end``.

    Every boundary is looked for in ``text[start:end + 1]`` only, which keeps the whole
    split linear; the character at ``end`` counts, as whitespace there ends a full part.
    """
    window_end = end + 1
    # Cutting anywhere in a run of whitespace gives the same parts, since the run is dropped.
    for pattern in (_PARAGRAPH, _SENTENCE):
        last = deque(pattern.finditer(text, start, window_end), maxlen=1)
        if last:
            return last[0].end() - 1
    for pos in range(end, start, -1):
        if text[pos].isspace():
            return pos
    return _outside_cluster(text, start, end)


def _outside_cluster(text: str, start: int, end: int) -> int:
    """``end``, or the nearest earlier point that keeps an emoji or accented letter whole."""
    pos = end
    while pos > start + 1 and _binds(text, start, pos):
        pos -= 1
    # A single cluster longer than the limit has to be cut somewhere.
    return end if _binds(text, start, pos) else pos


def _binds(text: str, start: int, pos: int) -> bool:
    """Whether a cut before ``text[pos]`` would split what is shown as one character."""
    after, before = text[pos], text[pos - 1]
    if before == _ZWJ or after in (_ZWJ, _KEYCAP):
        return True
    code = ord(after)
    if (
        0x1F3FB <= code <= 0x1F3FF  # skin tone modifiers
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0020 <= code <= 0xE007F  # tags of subdivision flags
        or unicodedata.combining(after)
    ):
        return True
    # Flags are pairs of regional indicators: count the run to know which pair this is. The
    # part begins at a pair boundary, so the count can stop at its start.
    if _is_regional(after) and _is_regional(before):
        run = 0
        while pos - run - 1 >= start and _is_regional(text[pos - run - 1]):
            run += 1
        return run % 2 == 1
    return False


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF
