from __future__ import annotations

import random
from datetime import timedelta

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st

from bridge.domain import (
    MessageStatus,
    advance_status,
    is_delivery_stage,
    reached_stages,
    window_expires_at,
    window_is_open,
)
from bridge.domain.contacts import _LANGUAGES, language_of
from tests.fakes import T0

S = MessageStatus


def test_window_is_24_hours_from_the_customers_message() -> None:
    expires = window_expires_at(T0)
    assert expires == T0 + timedelta(hours=24)
    assert window_is_open(expires, now=T0 + timedelta(hours=23, minutes=59))
    assert not window_is_open(expires, now=T0 + timedelta(hours=24))
    assert not window_is_open(window_expires_at(None), now=T0)


def test_statuses_move_forward() -> None:
    assert advance_status(S.PENDING, S.SENT) == S.SENT
    assert advance_status(S.SENT, S.READ) == S.READ  # delivered may be skipped
    assert advance_status(S.READ, S.DELIVERED) is None  # a late delivered changes nothing
    assert advance_status(S.SENT, S.FAILED) == S.FAILED
    assert advance_status(S.FAILED, S.READ) is None  # failed is final
    assert advance_status(S.READ, S.FAILED) is None


def test_a_played_voice_note_ranks_after_read() -> None:
    assert advance_status(S.READ, S.PLAYED) == S.PLAYED
    assert advance_status(S.SENT, S.PLAYED) == S.PLAYED  # read and delivered may be skipped
    assert advance_status(S.PLAYED, S.READ) is None  # a late read changes nothing
    assert advance_status(S.PLAYED, S.DELIVERED) is None
    assert advance_status(S.PLAYED, S.FAILED) is None  # played, so not failed
    assert advance_status(S.DELIVERED, S.FAILED) == S.FAILED  # a late failure still counts


@given(st.lists(st.sampled_from([S.SENT, S.DELIVERED, S.READ, S.PLAYED, S.FAILED]), max_size=12))
def test_any_order_of_statuses_never_goes_back(updates: list[MessageStatus]) -> None:
    rank = {S.PENDING: 0, S.SENT: 1, S.DELIVERED: 2, S.READ: 3, S.PLAYED: 4}
    current = S.PENDING
    for update in updates:
        new = advance_status(current, update)
        if new is None:
            continue
        if new != S.FAILED:
            assert rank[new] > rank[current]
        assert current != S.FAILED
        current = new
    # The end state never depends on duplicates: replaying everything changes nothing.
    for update in updates:
        assert advance_status(current, update) in (None, S.FAILED)


def test_reached_stages_for_display() -> None:
    assert reached_stages(S.PENDING) == ()
    assert reached_stages(S.READ) == (S.SENT, S.DELIVERED, S.READ)
    assert reached_stages(S.PLAYED) == (S.SENT, S.DELIVERED, S.READ, S.PLAYED)
    assert reached_stages(S.FAILED) == (S.FAILED,)
    assert [s for s in S if is_delivery_stage(s)] == [S.SENT, S.DELIVERED, S.READ, S.PLAYED]


def _parsed_language(wa_id: str) -> str | None:
    try:
        number = phonenumbers.parse("+" + wa_id, None)
    except phonenumbers.NumberParseException:
        return None
    return _LANGUAGES.get(phonenumbers.region_code_for_number(number) or "")


def test_a_contacts_language_is_the_one_its_parsed_number_gives() -> None:
    # The calling code decides most numbers without parsing them: the answer must be the
    # parse's all the same, for every calling code and length, and for no calling code.
    rng = random.Random(8)
    prefixes = [str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE]
    prefixes += ["0", "00", "80", "999", "28", ""]
    for prefix in prefixes:
        for length in range(19):
            for _ in range(8):
                wa_id = prefix + "".join(rng.choice("0123456789") for _ in range(length))
                assert language_of(wa_id) == _parsed_language(wa_id), wa_id
    for odd in ("", "abc", "4915１234567", "US.1234567890", "+4915112345678"):
        assert language_of(odd) == _parsed_language(odd), odd
    assert language_of("4915112345678") == "de"
