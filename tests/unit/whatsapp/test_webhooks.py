"""The webhook parser: recorded samples, batches, and anything Meta (or an attacker) may send."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.domain import (
    AccountEvent,
    AccountEventKind,
    InboundMessage,
    MessageStatus,
    Restriction,
    StatusUpdate,
    TemplateUpdate,
    UnknownEvent,
)
from bridge.errors import WebhookParseError
from bridge.ports import WebhookParser as WebhookParserPort
from whatsapp.webhooks import WebhookParser, parse_payload

PARSER = WebhookParser()
METADATA = {"display_phone_number": "15550001111", "phone_number_id": "PNID"}


def webhook(*entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A payload with one entry per argument, each a list of changes."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": f"WABA{i}", "changes": changes} for i, changes in enumerate(entries)],
    }


def change(
    messages: list[Any] | None = None,
    statuses: list[Any] | None = None,
    contacts: list[Any] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {"messaging_product": "whatsapp", "metadata": METADATA}
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def text(wamid: str, body: str = "hi", sender: str = "4915100000000") -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": "1700000000",
        "type": "text",
        "text": {"body": body},
    }


def status(wamid: str, value: str = "delivered") -> dict[str, Any]:
    return {"id": wamid, "status": value, "timestamp": "1700000100", "recipient_id": "49151"}


def test_the_parser_satisfies_the_core_port() -> None:
    port: WebhookParserPort = PARSER  # checked by mypy: the structural match with bridge.ports
    assert port.parse(b'{"entry": []}') == []


# --- the recorded samples ------------------------------------------------------------------


TEMPLATE_FIELDS = {
    "message_template_status_update",
    "message_template_quality_update",
    "template_category_update",
    "message_template_components_update",
    "template_components_update",
}
ACCOUNT_FIELDS = {"account_update", "phone_number_quality_update"}


def expected_kinds(payload: dict[str, Any]) -> list[type]:
    """What the samples should turn into, counted straight from their structure."""
    kinds: list[type] = []
    for entry in payload["entry"]:
        for ch in entry["changes"]:
            if ch["field"] in TEMPLATE_FIELDS:
                kinds.append(TemplateUpdate)
                continue
            if ch["field"] in ACCOUNT_FIELDS:
                kinds.append(AccountEvent)
                continue
            if ch["field"] != "messages":
                kinds.append(UnknownEvent)
                continue
            messages = ch["value"].get("messages", [])
            kinds += [InboundMessage] * len(messages)
            kinds += [StatusUpdate] * len(ch["value"].get("statuses", []))
            if not messages:
                kinds += [UnknownEvent] * len(ch["value"].get("errors", []))
    return kinds


def test_every_sample_parses_to_the_expected_events(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    assert len(pywa_samples) > 60
    for name, payload in pywa_samples.items():
        events = PARSER.parse(json.dumps(payload).encode())
        assert [type(e) for e in events] == expected_kinds(payload), name
        for event in events:
            if isinstance(event, InboundMessage | StatusUpdate):
                assert event.timestamp.tzinfo is UTC, name
                assert event.phone_number_id, name


def test_message_samples_keep_type_content_and_readable_text(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    def one(name: str) -> InboundMessage:
        (event,) = PARSER.parse(json.dumps(pywa_samples[name]).encode())
        assert isinstance(event, InboundMessage)
        return event

    text_msg = one("message/text")
    assert text_msg == InboundMessage(
        wamid="wamid.xyzxyz",
        phone_number_id="1122334455667",
        display_phone_number="972123456789",
        contact_id="972987654321",
        contact_name="Test Name",
        timestamp=datetime(2023, 10, 11, 16, 53, 43, tzinfo=UTC),
        message_type="text",
        text="Body Text",
        content={"body": "Body Text"},
    )
    assert one("message/image").content["id"] == "65463453"
    assert one("message/image").text is None
    document = one("message/document")
    assert (document.message_type, document.text) == ("document", "caption")
    assert document.content["filename"] == "filename.pdf"
    reaction = one("message/reaction")
    assert (reaction.text, reaction.context_wamid) == ("😮", "wamid.yzxyzx=")
    assert one("message/unreaction_empty").text is None
    location = one("message/current_location")
    assert location.content == {"latitude": 12.25089, "longitude": 43.90539, "forwarded": True}
    assert one("message/forwarded_many_times").content["frequently_forwarded"] is True
    referral = one("message/referral").content["referral"]
    assert (referral["headline"], referral["source_url"]) == ("AD_TITLE", "AD_OR_POST_FB_URL")
    contacts = one("message/contacts")
    assert contacts.text == "Chandler Bing, Monica, Rachel Green"
    assert len(contacts.content["contacts"]) == 3
    unsupported = one("message/unsupported")
    assert unsupported.message_type == "unsupported"
    assert unsupported.content["errors"][0]["code"] == 131051
    assert one("message/reply").context_wamid is not None
    broken = one("message/interactive_message_with_err")
    assert (broken.message_type, broken.content["errors"][0]["code"]) == ("interactive", 131000)
    assert one("callback_button/quick_reply").text == "title"
    assert one("callback_button/button").text == "title"
    assert one("callback_selection/description").text == "title"
    assert one("flow_completion/completion").text == "Sent"
    assert one("system/phone_number_change").text.startswith("User A changed")  # type: ignore[union-attr]
    edit = one("edited_message/image")
    assert (edit.message_type, edit.text) == ("edit", "Updated image caption")
    assert edit.context_wamid is not None
    revoke = one("deleted_message/revoke")
    assert revoke.context_wamid == "<ORIGINAL_WHATSAPP_MESSAGE_ID>"


def test_status_samples(pywa_samples: dict[str, dict[str, Any]]) -> None:
    def one(name: str) -> StatusUpdate:
        (event,) = PARSER.parse(json.dumps(pywa_samples[name]).encode())
        assert isinstance(event, StatusUpdate)
        return event

    assert one("message_status/sent").status is MessageStatus.SENT
    assert one("message_status/delivered").status is MessageStatus.DELIVERED
    assert one("message_status/read").status is MessageStatus.READ
    played = one("message_status/played")
    assert (played.status, played.raw_status) == (MessageStatus.PLAYED, "played")
    sent = one("message_status/sent")
    assert (sent.pricing_category, sent.billable, sent.pricing_model) == ("service", True, "CBP")
    assert sent.has_pricing
    failed = one("message_status/failed")
    assert failed.status is MessageStatus.FAILED
    assert failed.error_code == 130472
    assert failed.error_title == "User's number is part of an experiment"
    assert failed.error_details is not None
    assert failed.error_details.startswith("Failed to send message")
    assert failed.recipient_id == "972987654321"


# --- batches and order ---------------------------------------------------------------------


def test_a_batch_comes_out_complete_and_in_order() -> None:
    payload = webhook(
        [
            change([text("m1"), text("m2")], [status("s1"), status("s2", "read")]),
            change([text("m3")], [status("s3", "sent")]),
        ],
        [
            change(statuses=[status("s4", "failed")], messages=[text("m4"), text("m5")]),
            change([text("m6")]),
        ],
    )
    ids = [e.wamid for e in PARSER.parse(json.dumps(payload).encode())]  # type: ignore[union-attr]
    assert ids == ["m1", "m2", "s1", "s2", "m3", "s3", "m4", "m5", "s4", "m6"]


# --- tolerance -----------------------------------------------------------------------------


def test_an_unknown_message_type_is_kept_with_its_object() -> None:
    new = {**text("m1"), "type": "hologram", "hologram": {"depth": 3}}
    del new["text"]
    (event,) = parse_payload(webhook([change([new])]))
    assert isinstance(event, InboundMessage)
    assert (event.message_type, event.content, event.text) == ("hologram", {"depth": 3}, None)


def test_a_message_without_type_is_unknown_not_dropped() -> None:
    new = text("m1")
    del new["type"]
    (event,) = parse_payload(webhook([change([new])]))
    assert isinstance(event, InboundMessage)
    assert event.message_type == "unknown"


def test_an_unknown_status_keeps_its_raw_value() -> None:
    (event,) = parse_payload(webhook([change(statuses=[status("s1", "teleported")])]))
    assert isinstance(event, StatusUpdate)
    assert (event.status, event.raw_status) == (None, "teleported")


def test_an_unknown_field_becomes_an_unknown_event() -> None:
    other = {"field": "business_capability_update", "value": {"max_phone_numbers": 25}}
    events = parse_payload(webhook([other, change([text("m1")])]))
    assert events[0] == UnknownEvent(kind="field:business_capability_update", raw=other)
    assert isinstance(events[1], InboundMessage)


def test_a_user_without_wa_id_is_identified_by_user_id() -> None:
    contact = {"profile": {"name": "Ann"}, "wa_id": "", "user_id": "US.42"}
    message = {**text("m1"), "from": "", "from_user_id": "US.42"}
    (event,) = parse_payload(webhook([change([message], contacts=[contact])]))
    assert isinstance(event, InboundMessage)
    assert (event.contact_id, event.contact_name) == ("US.42", "Ann")


def test_a_user_id_only_in_contacts_is_found() -> None:
    contact = {"profile": {"name": "Ann"}, "user_id": "US.42"}
    message = text("m1")
    del message["from"]
    (event,) = parse_payload(webhook([change([message], contacts=[contact])]))
    assert isinstance(event, InboundMessage)
    assert (event.contact_id, event.contact_name) == ("US.42", "Ann")


def test_the_name_comes_from_the_matching_contact() -> None:
    contacts = [
        {"profile": {"name": "Ann"}, "wa_id": "111"},
        {"profile": {"name": "Bob"}, "wa_id": "222"},
    ]
    events = parse_payload(
        webhook([change([text("m1", sender="222"), text("m2", sender="111")], contacts=contacts)])
    )
    assert [e.contact_name for e in events] == ["Bob", "Ann"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "item",
    [
        {"from": "1", "timestamp": "1700000000", "type": "text"},  # no id
        {**text("m1"), "timestamp": "yesterday"},
        {**text("m1"), "timestamp": None},
        {**text("m1"), "timestamp": "1e400"},
        {"id": "m1", "timestamp": "1700000000", "type": "text"},  # no sender at all
        "a string",
        None,
        42,
    ],
)
def test_a_garbage_message_is_an_unknown_event_and_its_neighbours_survive(item: Any) -> None:
    events = parse_payload(webhook([change([text("before"), item, text("after")])]))
    assert isinstance(events[0], InboundMessage)
    assert isinstance(events[1], UnknownEvent)
    assert events[1].kind == "malformed_message"
    assert isinstance(events[2], InboundMessage)


@pytest.mark.parametrize(
    "item", [{"status": "read", "timestamp": "1"}, {"id": "s1", "timestamp": "1"}, [], "x"]
)
def test_a_garbage_status_is_an_unknown_event(item: Any) -> None:
    (event,) = parse_payload(webhook([change(statuses=[item])]))
    assert isinstance(event, UnknownEvent)
    assert event.kind == "malformed_status"


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({}, "malformed_payload"),
        ({"entry": "nope"}, "malformed_payload"),
        ({"entry": [7]}, "malformed_entry"),
        ({"entry": [{"changes": None}]}, "malformed_entry"),
        ({"entry": [{"changes": ["x"]}]}, "malformed_change"),
        ({"entry": [{"changes": [{"field": "messages", "value": []}]}]}, "malformed_change"),
        ({"entry": [{"changes": [{"field": "messages", "value": {}}]}]}, "messages:other"),
    ],
)
def test_garbage_structure_becomes_unknown_events(payload: dict[str, Any], kind: str) -> None:
    (event,) = parse_payload(payload)
    assert isinstance(event, UnknownEvent)
    assert event.kind == kind


def test_an_empty_entry_list_is_no_events() -> None:
    assert parse_payload({"object": "whatsapp_business_account", "entry": []}) == []


def test_numeric_timestamps_are_accepted_too() -> None:
    (event,) = parse_payload(webhook([change([{**text("m1"), "timestamp": 1700000000}])]))
    assert event.timestamp == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"{", b"\xff\xfe", b"[1, 2]", b'"text"', b"null", b"3"]
)
def test_a_body_that_is_not_a_json_object_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(WebhookParseError):
        PARSER.parse(body)


def test_absurd_nesting_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(WebhookParseError):
        PARSER.parse(b"[" * 100_000 + b"]" * 100_000)


# --- property: nothing but WebhookParseError, whatever arrives ------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["messages", "text", "read", "1700000000", "wamid.x", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
# Cheaper than full JSON for the many fields of a message: one level of nesting.
shallow = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=6), scalars, max_size=3)
)
message_like = st.fixed_dictionaries(
    {},
    optional={
        "id": shallow,
        "from": shallow,
        "from_user_id": shallow,
        "timestamp": shallow,
        "type": st.sampled_from(["text", "image", "interactive", "edit", "contacts", "zzz"])
        | shallow,
        "text": shallow,
        "image": shallow,
        "interactive": shallow,
        "edit": shallow,
        "contacts": shallow,
        "context": shallow,
        "status": shallow,
        "errors": shallow,
    },
)
shaped = st.builds(
    lambda items, stats, contacts, meta, field: {
        "entry": [
            {
                "changes": [
                    {
                        "field": field,
                        "value": {
                            "metadata": meta,
                            "contacts": contacts,
                            "messages": items,
                            "statuses": stats,
                        },
                    }
                ]
            }
        ]
    },
    st.lists(message_like | json_values, max_size=3),
    st.lists(message_like | json_values, max_size=3),
    json_values,
    st.just(METADATA) | json_values,
    st.just("messages") | json_values,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, shaped))
def test_arbitrary_json_never_raises_anything_but_a_parse_error(payload: Any) -> None:
    try:
        events = PARSER.parse(json.dumps(payload).encode())
    except WebhookParseError:
        assert not isinstance(payload, dict)
        return
    assert all(isinstance(e, InboundMessage | StatusUpdate | UnknownEvent) for e in events)


def test_template_webhooks_become_template_updates(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    def only(name: str) -> TemplateUpdate:
        [event] = PARSER.parse(json.dumps(pywa_samples[name]).encode())
        assert isinstance(event, TemplateUpdate)
        return event

    approved = only("template_status_update/approved")
    assert (approved.waba_id, approved.template_id) == ("102290129340398", "1689556908129832")
    assert (approved.name, approved.language) == ("order_confirmation", "en_US")
    assert (approved.status, approved.category, approved.quality) == ("APPROVED", "UTILITY", None)
    rejected = only("template_status_update/rejected")
    assert (rejected.status, rejected.reason) == ("REJECTED", "INVALID_FORMAT")
    yellow = only("template_quality_update/yellow")
    assert (yellow.quality, yellow.status) == ("YELLOW", None)
    category = only("template_category_update/marketing")
    assert (category.category, category.status) == ("MARKETING", None)
    reinstated = parse_payload(
        {
            "entry": [
                {
                    "id": "W",
                    "changes": [
                        {
                            "field": "message_template_status_update",
                            "value": {
                                "event": "REINSTATED",
                                "message_template_name": "promo",
                                "message_template_language": "en",
                                "reason": "NONE",
                            },
                        }
                    ],
                }
            ]
        }
    )
    assert reinstated == [
        TemplateUpdate(
            waba_id="W", template_id=None, name="promo", language="en", status="APPROVED"
        )
    ]  # sendable again, and Meta's "NONE" is no reason


def test_template_wording_webhooks_carry_the_new_wording(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    element = pywa_samples["template_components_update/element"]
    [body_only] = parse_payload(element)
    assert isinstance(body_only, TemplateUpdate)
    assert (body_only.waba_id, body_only.name, body_only.language) == (
        "57438975935",
        "my_message_template",
        "he",
    )
    assert body_only.body_text == "Hi {{1}}! Welcome to our service."
    assert (body_only.header_text, body_only.footer_text, body_only.buttons) == (None, None, None)
    assert (body_only.status, body_only.category, body_only.quality) == (None, None, None)
    [everything] = parse_payload(element["all"])  # the sample keeps a fuller one inside
    assert isinstance(everything, TemplateUpdate)
    assert everything.template_id == "1315502779341834"
    assert everything.header_text == "Your order is confirmed!"
    assert everything.body_text is not None and everything.body_text.startswith("Thank you")
    assert everything.footer_text == "Lucky Shrub: the Succulent Specialists!"
    assert everything.buttons == ("Phone support", "Email support")
    assert everything.changes_wording and not body_only.status


# --- account and phone number news -----------------------------------------------------------


def account_event(payload: dict[str, Any]) -> AccountEvent:
    [event] = PARSER.parse(json.dumps(payload).encode())
    assert isinstance(event, AccountEvent)
    return event


K = AccountEventKind


def test_every_account_update_sample_is_a_typed_event(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    kinds = {
        name.split("/")[1]: account_event(payload).notice.kind
        for name, payload in pywa_samples.items()
        if name.startswith("account_update/")
    }
    assert kinds == {
        "account_deleted": K.DELETED,
        "account_restriction": K.RESTRICTED,
        "account_violation": K.VIOLATION,
        "account_disabled": K.REINSTATED,  # a DISABLED_UPDATE whose ban state is REINSTATE
        "account_offboarded": K.OFFBOARDED,
        "account_reconnected": K.RECONNECTED,
        # News that needs nobody: typed, kept for the log, not shown.
        "ad_account_linked": K.OTHER,
        "authentication_international_eligibility": K.OTHER,
        "mm_api_for_wa_terms_of_service": K.OTHER,
        "partner_added": K.OTHER,
        "partner_app_installed": K.OTHER,
        "partner_app_uninstalled": K.OTHER,
        "partner_led_business_verification_status": K.OTHER,
        "partner_removed": K.OTHER,
        "partner_removed_wa_app_disconnection": K.OTHER,
        "primary_business_location_set": K.OTHER,
        "pricing_tiering_update": K.OTHER,
    }


def test_account_samples_carry_what_operators_need(
    pywa_samples: dict[str, dict[str, Any]],
) -> None:
    restricted = account_event(pywa_samples["account_update/account_restriction"])
    assert restricted.name == "ACCOUNT_RESTRICTION"
    assert restricted.notice.waba_id == "102290129340398"
    assert restricted.notice.restrictions == (
        Restriction.START_CONVERSATIONS,
        Restriction.ADD_PHONE_NUMBERS,
    )
    assert restricted.notice.until == datetime.fromtimestamp(1641330498, tz=UTC)
    violation = account_event(pywa_samples["account_update/account_violation"])
    assert violation.notice.violation == "ADULT"
    disabled = account_event(pywa_samples["account_update/account_disabled"])
    assert disabled.notice.effective == "April 17, 2025"
    other = account_event(pywa_samples["account_update/partner_added"])
    assert (other.name, other.notice.shown) == ("PARTNER_ADDED", False)


def account_payload(field: str, value: dict[str, Any], *, time: int = 1750000000) -> dict[str, Any]:
    entry = {"id": "WABA9", "time": time, "changes": [{"field": field, "value": value}]}
    return {"object": "whatsapp_business_account", "entry": [entry]}


@pytest.mark.parametrize(
    ("ban_state", "kind"),
    [
        ("DISABLE", AccountEventKind.DISABLED),
        ("SCHEDULE_FOR_DISABLE", AccountEventKind.DISABLE_SCHEDULED),
        ("REINSTATE", AccountEventKind.REINSTATED),
        ("SOMETHING_NEW", AccountEventKind.OTHER),
    ],
)
def test_each_ban_state_is_its_own_kind(ban_state: str, kind: AccountEventKind) -> None:
    value = {"event": "DISABLED_UPDATE", "ban_info": {"waba_ban_state": ban_state}}
    assert account_event(account_payload("account_update", value)).notice.kind == kind


@pytest.mark.parametrize(
    ("value", "kind", "limits", "quality"),
    [
        ({"event": "FLAGGED", "current_limit": "TIER_1K"}, "quality_down", ("1K", None), None),
        ({"event": "UNFLAGGED"}, "quality_up", (None, None), None),
        (
            {"event": "DOWNGRADE", "current_limit": "TIER_250", "old_limit": "TIER_1K"},
            "limit_down",
            ("250", "1K"),
            None,
        ),
        (
            {"event": "UPGRADE", "current_limit": "TIER_10K", "old_limit": "TIER_1K"},
            "limit_up",
            ("10K", "1K"),
            None,
        ),
        (
            {"event": "THROUGHPUT_UPGRADE", "current_limit": "TIER_UNLIMITED"},
            "limit_up",
            ("UNLIMITED", None),
            None,
        ),
        ({"event": "SOMETHING", "new_quality_score": "red"}, "quality_down", (None, None), "RED"),
        ({"event": "ONBOARDING", "current_limit": "TIER_250"}, "other", ("250", None), None),
    ],
)
def test_phone_number_quality_updates(
    value: dict[str, Any], kind: str, limits: tuple[str | None, str | None], quality: str | None
) -> None:
    event = account_event(
        account_payload(
            "phone_number_quality_update", {"display_phone_number": "15550001111", **value}
        )
    )
    notice = event.notice
    assert notice.kind == AccountEventKind(kind)
    assert (notice.limit, notice.previous_limit, notice.quality) == (*limits, quality)
    assert (notice.number, notice.waba_id, event.name) == ("15550001111", "WABA9", value["event"])


def test_one_event_has_one_id_however_often_meta_delivers_it() -> None:
    value = {"event": "ACCOUNT_VIOLATION", "violation_info": {"violation_type": "SCAM"}}
    first = account_event(account_payload("account_update", value))
    again = account_event(account_payload("account_update", dict(reversed(value.items()))))
    later = account_event(account_payload("account_update", value, time=1750000600))
    assert first.event_id == again.event_id != later.event_id
    assert len(first.event_id) == 32


@pytest.mark.parametrize("field", ["account_update", "phone_number_quality_update"])
@pytest.mark.parametrize("value", [{}, {"event": 7}, "ACCOUNT_DELETED", None])
def test_account_news_without_an_event_is_kept_as_unknown(field: str, value: Any) -> None:
    [event] = parse_payload(account_payload(field, {"v": value} if value is None else value))
    assert isinstance(event, UnknownEvent)
    assert event.kind == f"malformed_{field}"


account_like = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(["ACCOUNT_RESTRICTION", "DISABLED_UPDATE", "FLAGGED"]) | shallow,
        "ban_info": shallow,
        "restriction_info": st.lists(shallow, max_size=3) | shallow,
        "violation_info": shallow,
        "display_phone_number": shallow,
        "current_limit": shallow,
        "old_limit": shallow,
        "new_quality_score": shallow,
        "message_template_name": shallow,
        "message_template_buttons": st.lists(shallow, max_size=2) | shallow,
        "message_template_element": shallow,
    },
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(ACCOUNT_FIELDS | TEMPLATE_FIELDS)),
    account_like | json_values,
    json_values,
)
def test_arbitrary_account_news_never_crashes(field: str, value: Any, time: Any) -> None:
    payload = {"entry": [{"id": "W", "time": time, "changes": [{"field": field, "value": value}]}]}
    for event in parse_payload(payload):
        assert isinstance(event, AccountEvent | TemplateUpdate | UnknownEvent)
