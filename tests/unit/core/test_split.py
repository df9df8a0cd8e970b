"""Long replies cut into WhatsApp-sized parts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.domain.text import WHATSAPP_TEXT_LIMIT, split_text


def _non_space(text: str) -> str:
    return "".join(char for char in text if not char.isspace())


def _reassembles(parts: list[str], text: str) -> bool:
    """Whether ``text`` is the parts in order with only whitespace around and between them."""
    pos = 0
    for part in parts:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if not text.startswith(part, pos):
            return False
        pos += len(part)
    return text[pos:].isspace() or pos == len(text)


# Words, sentence ends, blank lines, emoji with modifiers and flags: what replies are made of.
_WORDS = ["word", "a", "longerword", "x" * 30]
_SPACES = [" ", "  ", "\n", "\n\n", ". ", "! ", "? ", "…"]
_CLUSTERS = ["👍🏽", "🇩🇪", "e\u0301", "👨\u200d👩\u200d👧"]
_PIECES = st.sampled_from([*_WORDS, *_SPACES, *_CLUSTERS])
_TEXTS = st.one_of(st.text(), st.lists(_PIECES).map("".join))


@settings(max_examples=300)
@given(text=_TEXTS, limit=st.integers(min_value=1, max_value=40))
def test_parts_fit_and_lose_nothing_but_whitespace(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(part and len(part) <= limit for part in parts)
    assert "".join(_non_space(part) for part in parts) == _non_space(text)
    if len(text) <= limit:
        assert parts == ([text] if text else [])
    else:
        assert all(part == part.strip() for part in parts)
        assert _reassembles(parts, text)


def test_a_text_within_the_limit_comes_back_whole() -> None:
    assert split_text("  hello \n") == ["  hello \n"]
    assert split_text("x" * WHATSAPP_TEXT_LIMIT) == ["x" * WHATSAPP_TEXT_LIMIT]
    assert split_text("") == []


def test_a_paragraph_break_is_preferred_to_a_sentence_end() -> None:
    text = "One. Two.\n\nThree four. Five six seven."
    assert split_text(text, 25) == ["One. Two.", "Three four.", "Five six seven."]


def test_a_sentence_end_is_preferred_to_a_space() -> None:
    text = "Your order shipped! It arrives on Monday morning."
    assert split_text(text, 30) == ["Your order shipped!", "It arrives on Monday morning."]


def test_a_closing_quote_stays_with_its_sentence() -> None:
    text = 'He said "yes." Then we left the shop.'
    assert split_text(text, 20) == ['He said "yes."', "Then we left the", "shop."]


def test_a_space_is_preferred_to_a_hard_cut() -> None:
    assert split_text("alpha beta gamma", 12) == ["alpha beta", "gamma"]


def test_a_customer_reply_of_6000_characters_gives_two_parts() -> None:
    sentence = "Thanks for waiting, your parcel left our warehouse today. "
    text = (sentence * (6000 // len(sentence) + 1))[:6000].strip()
    parts = split_text(text)
    assert len(parts) == 2
    assert all(len(part) <= WHATSAPP_TEXT_LIMIT for part in parts)
    assert parts[0].endswith("today.")
    assert " ".join(parts) == text


def test_a_text_without_spaces_is_cut_hard() -> None:
    parts = split_text("x" * 10_000)
    assert [len(part) for part in parts] == [4096, 4096, 1808]


@pytest.mark.parametrize(
    "cluster",
    [
        "👍🏽",  # skin tone modifier
        "👨\u200d👩\u200d👧",  # ZWJ family
        "❤️",  # variation selector
        "🇩🇪",  # flag: two regional indicators
        "1️⃣",  # keycap
        "e\u0301",  # e and a combining accent
    ],
)
def test_a_hard_cut_keeps_an_emoji_whole(cluster: str) -> None:
    for offset in range(1, len(cluster) + 1):
        text = "a" * (10 - offset) + cluster + "b" * 5
        parts = split_text(text, 10)
        assert "".join(parts) == text
        assert any(cluster in part for part in parts), (offset, parts)


def test_a_run_of_flags_is_cut_between_flags() -> None:
    assert split_text("🇩🇪🇫🇷🇮🇹", 3) == ["🇩🇪", "🇫🇷", "🇮🇹"]


def test_a_long_text_is_split_in_linear_time() -> None:
    # A quadratic cut would take minutes here with a small limit.
    text = ("word " * 20 + "end.\n\n") * 10_000
    parts = split_text(text, 100)
    assert len(parts) > 10_000 // 2
    assert _non_space("".join(parts)) == _non_space(text)
    assert len(split_text("y" * 100_000)) == 25


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split_text("hello", 0)
