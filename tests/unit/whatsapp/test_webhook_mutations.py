"""The webhook parser against Meta's recorded samples, broken on purpose: keys dropped, types
changed, nesting wrong, strings huge, empty or odd, nulls everywhere. Whatever arrives, the
parser returns typed events (each with what the core cannot do without) or raises only its
declared ``WebhookParseError``; never anything else."""

from __future__ import annotations

import copy
import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.domain import (
    AccountEvent,
    InboundMessage,
    StatusUpdate,
    TemplateUpdate,
    UnknownEvent,
    WebhookEvent,
)
from bridge.errors import WebhookParseError
from tests.strategies import EVERY_ODD_VALUE, field_names, mutated, replace_everywhere
from whatsapp.webhooks import WebhookParser

PARSER = WebhookParser()
TYPED = (InboundMessage, StatusUpdate, TemplateUpdate, AccountEvent, UnknownEvent)
#: Pure and fast: 200 examples each, the same ones on every run.
PURE = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def assert_well_formed(events: list[WebhookEvent]) -> None:
    """Typed events, each with what the core relies on."""
    for event in events:
        assert isinstance(event, TYPED), event
        if isinstance(event, InboundMessage):
            assert event.wamid and event.phone_number_id and event.contact_id
            assert event.message_type
            assert event.timestamp.tzinfo is UTC
            assert isinstance(event.content, dict)
            assert event.text is None or isinstance(event.text, str)
        elif isinstance(event, StatusUpdate):
            assert event.wamid and event.phone_number_id and event.raw_status
            assert event.timestamp.tzinfo is UTC
        elif isinstance(event, TemplateUpdate):
            assert event.name
        elif isinstance(event, AccountEvent):
            assert event.name and len(event.event_id) == 32
        else:
            assert isinstance(event.kind, str) and isinstance(event.raw, dict)


@PURE
@given(data=st.data())
def test_broken_samples_become_typed_events(
    pywa_samples: dict[str, dict[str, Any]], data: st.DataObject
) -> None:
    payload = data.draw(mutated(pywa_samples))
    # Bytes as Meta would send them: lone surrogates travel escaped, as JSON allows.
    events = PARSER.parse(json.dumps(payload).encode())
    assert_well_formed(events)


@PURE
@given(data=st.data())
def test_broken_samples_reencoded_as_utf8_parse_the_same(
    pywa_samples: dict[str, dict[str, Any]], data: st.DataObject
) -> None:
    payload = data.draw(mutated(pywa_samples))
    escaped = json.dumps(payload).encode()
    try:
        raw = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: only its escape exists
        return
    # The same JSON in another encoding is the same events (the signature is another matter).
    assert PARSER.parse(raw) == PARSER.parse(escaped)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@PURE
@given(json_values)
def test_any_json_value_is_events_or_the_declared_error(value: Any) -> None:
    try:
        # allow_nan: Python writes NaN and Infinity, which the parser must survive too.
        events = PARSER.parse(json.dumps(value).encode())
    except WebhookParseError:
        assert not isinstance(value, dict)
        return
    assert isinstance(value, dict)
    assert_well_formed(events)


@PURE
@given(st.binary(max_size=300) | st.text(max_size=100).map(lambda t: t.encode("utf-16")))
def test_any_bytes_are_events_or_the_declared_error(body: bytes) -> None:
    try:
        events = PARSER.parse(body)
    except WebhookParseError:
        return
    assert_well_formed(events)


@pytest.mark.long
def test_every_field_of_every_sample_broken_every_way(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    """Exhaustive where Hypothesis samples: each field name of each sample, replaced wherever
    it appears by each odd value (about 37,000 bodies, a few seconds)."""
    parsed = 0
    for name, sample in pywa_samples.items():
        for key in sorted(field_names(sample)):
            for value in EVERY_ODD_VALUE:
                payload = copy.deepcopy(sample)
                replace_everywhere(payload, key, value)
                try:
                    events = PARSER.parse(json.dumps(payload).encode())
                except Exception as error:  # pragma: no cover - the failure report
                    raise AssertionError(f"{name}: {key}={value!r:.40} raised {error!r}") from error
                assert_well_formed(events)
                parsed += 1
    assert parsed > 30_000


def test_what_no_database_stores_is_replaced_not_refused() -> None:
    """NUL and lone surrogates (which JSON may escape) become U+FFFD; NaN becomes null; an
    error code no integer column holds is dropped."""
    raw = (
        b'{"entry": [{"changes": [{"field": "messages", "value": {'
        b'"metadata": {"phone_number_id": "PNID"},'
        b'"messages": [{"from": "491\\u0000", "id": "wamid.\\ud800", "timestamp": "1700000000",'
        b' "type": "text", "text": {"body": "a\\u0000b\\udfffc", "\\u0000k": NaN}}],'
        b'"statuses": [{"id": "wamid.S", "status": "failed", "timestamp": "1700000000",'
        b' "errors": [{"code": 1180591620717411303424, "title": "\\udfff"}]}]'
        b"}}]}]}"
    )
    [inbound, status] = PARSER.parse(raw)
    assert isinstance(inbound, InboundMessage) and isinstance(status, StatusUpdate)
    assert inbound.contact_id == "491\ufffd" and inbound.wamid == "wamid.\ufffd"
    assert inbound.text == "a\ufffdb\ufffdc"
    assert inbound.content == {"body": "a\ufffdb\ufffdc", "\ufffdk": None}
    assert status.error_code is None and status.error_title == "\ufffd"


@pytest.mark.parametrize(
    "body",
    [
        '{"entry": []}'.encode("utf-16"),
        '{"entry": []}'.encode("utf-32"),
        '{"entry": []}'.encode("utf-8-sig"),
        b'{"entry": [], "x": "\xed\xa0\x80"}',  # a surrogate encoded: not UTF-8
    ],
)
def test_json_in_anything_but_utf8_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(WebhookParseError):
        PARSER.parse(body)
