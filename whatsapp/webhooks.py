"""Webhook JSON from Meta into the core's typed events, tolerant of everything but non-JSON.

One POST may batch many updates across ``entry[]``, ``changes[]``, ``messages[]`` and
``statuses[]``; every one of them becomes an event, in order. Anything we do not
understand becomes an ``UnknownEvent`` so it is kept and shown, never dropped or fatal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeGuard

from bridge.domain import (
    AccountEvent,
    AccountEventKind,
    InboundMessage,
    MessageStatus,
    OperatorNotice,
    Restriction,
    StatusUpdate,
    TemplateUpdate,
    UnknownEvent,
    WebhookEvent,
)
from bridge.errors import WebhookParseError
from whatsapp.errors import problem_of

__all__ = ["WebhookParser", "parse_payload"]

log = logging.getLogger(__name__)

_STATUSES: Final[Mapping[str, MessageStatus]] = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "played": MessageStatus.PLAYED,
    "failed": MessageStatus.FAILED,
}
_CAPTIONED: Final = frozenset({"image", "video", "document", "audio", "sticker"})
# Where edits, deletions and reactions name the message they are about, when no context does.
_TARGET_KEYS: Final[Mapping[str, str]] = {
    "reaction": "message_id",
    "edit": "original_message_id",
    "revoke": "original_message_id",
}


_TEMPLATE_FIELDS: Final = frozenset(
    {
        "message_template_status_update",
        "message_template_quality_update",
        "template_category_update",
        "message_template_components_update",
        "template_components_update",
    }
)
#: Template events that name a status other than the one the template ends up in.
_TEMPLATE_STATUS_OF_EVENT: Final[Mapping[str, str]] = {
    # No longer flagged, paused or disabled: it can be sent again.
    "REINSTATED": "APPROVED",
}


def _template_update(value: dict[str, Any], waba_id: str) -> TemplateUpdate:
    """One of Meta's template webhooks (status, quality, category or wording) as one event."""
    name = _required(value, "message_template_name", limit=_MAX_TITLE)
    template_id = value.get("message_template_id")
    event = _str(value.get("event")).upper()
    reason = _str(value.get("reason"))
    buttons = value.get("message_template_buttons")
    return TemplateUpdate(
        waba_id=waba_id,
        template_id=str(template_id)
        if isinstance(template_id, int | str) and template_id and len(str(template_id)) <= 64
        else None,
        name=name,
        language=_fit(_str(value.get("message_template_language")), _MAX_LANGUAGE),
        status=_fit(_TEMPLATE_STATUS_OF_EVENT.get(event, event), _MAX_SHORT) or None,
        quality=_fit(_str(value.get("new_quality_score")).upper(), 16) or None,
        category=_fit(
            (
                _str(value.get("new_category")) or _str(value.get("message_template_category"))
            ).upper(),
            _MAX_SHORT,
        )
        or None,
        reason=reason if reason and reason.upper() != "NONE" else None,
        header_text=_optional_str(value.get("message_template_title")),
        body_text=_optional_str(value.get("message_template_element")),
        footer_text=_optional_str(value.get("message_template_footer")),
        buttons=tuple(
            _str(b.get("message_template_button_text")) for b in buttons if isinstance(b, dict)
        )
        if isinstance(buttons, list)
        else None,
    )


# --- account and phone number news ----------------------------------------------------------

_ACCOUNT_EVENTS: Final[Mapping[str, AccountEventKind]] = {
    "ACCOUNT_VIOLATION": AccountEventKind.VIOLATION,
    "ACCOUNT_RESTRICTION": AccountEventKind.RESTRICTED,
    "ACCOUNT_DELETED": AccountEventKind.DELETED,
    "ACCOUNT_OFFBOARDED": AccountEventKind.OFFBOARDED,
    "ACCOUNT_RECONNECTED": AccountEventKind.RECONNECTED,
}
#: ``DISABLED_UPDATE`` says what happened in ``ban_info.waba_ban_state``.
_BAN_STATES: Final[Mapping[str, AccountEventKind]] = {
    "DISABLE": AccountEventKind.DISABLED,
    "SCHEDULE_FOR_DISABLE": AccountEventKind.DISABLE_SCHEDULED,
    "REINSTATE": AccountEventKind.REINSTATED,
}
_RESTRICTIONS: Final[Mapping[str, Restriction]] = {
    "RESTRICTED_BIZ_INITIATED_MESSAGING": Restriction.START_CONVERSATIONS,
    "RESTRICTED_CUSTOMER_INITIATED_MESSAGING": Restriction.REPLY_TO_CUSTOMERS,
    "RESTRICTED_ADD_PHONE_NUMBER_ACTION": Restriction.ADD_PHONE_NUMBERS,
}
_NUMBER_EVENTS: Final[Mapping[str, AccountEventKind]] = {
    "FLAGGED": AccountEventKind.QUALITY_DOWN,
    "UNFLAGGED": AccountEventKind.QUALITY_UP,
    "DOWNGRADE": AccountEventKind.LIMIT_DOWN,
    "UPGRADE": AccountEventKind.LIMIT_UP,
    "THROUGHPUT_UPGRADE": AccountEventKind.LIMIT_UP,
}
_QUALITY_KINDS: Final[Mapping[str, AccountEventKind]] = {
    "GREEN": AccountEventKind.QUALITY_UP,
    "YELLOW": AccountEventKind.QUALITY_DOWN,
    "RED": AccountEventKind.QUALITY_DOWN,
}


def _event_id(field: str, entry: Mapping[str, Any], value: Mapping[str, Any]) -> str:
    """The same for every delivery of one event: what Meta sent, hashed."""
    identity = {"field": field, "entry": entry.get("id"), "time": entry.get("time"), "value": value}
    canonical = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _account_update(value: dict[str, Any], entry: Mapping[str, Any], field: str) -> AccountEvent:
    name = _required(value, "event").upper()
    kind = _ACCOUNT_EVENTS.get(name, AccountEventKind.OTHER)
    ban = _dict(value.get("ban_info"))
    if name == "DISABLED_UPDATE":
        kind = _BAN_STATES.get(_str(ban.get("waba_ban_state")).upper(), AccountEventKind.OTHER)
    restrictions = [r for r in _list(value.get("restriction_info")) if isinstance(r, dict)]
    ends = [_maybe_timestamp(r.get("expiration")) for r in restrictions]
    violation = _str(_dict(value.get("violation_info")).get("violation_type"))
    return AccountEvent(
        event_id=_event_id(field, entry, value),
        name=name,
        notice=OperatorNotice(
            kind=kind,
            waba_id=_str(entry.get("id")) or None,
            violation=violation or None,
            restrictions=tuple(
                dict.fromkeys(
                    _RESTRICTIONS.get(_str(r.get("restriction_type")).upper(), Restriction.OTHER)
                    for r in restrictions
                )
            ),
            until=max((e for e in ends if e is not None), default=None),
            effective=_str(ban.get("waba_ban_date")) or None,
        ),
    )


def _number_quality_update(
    value: dict[str, Any], entry: Mapping[str, Any], field: str
) -> AccountEvent:
    name = _required(value, "event").upper()
    quality = (
        _str(value.get("new_quality_score")) or _str(value.get("quality_rating"))
    ).upper() or None
    kind = _NUMBER_EVENTS.get(name) or _QUALITY_KINDS.get(quality or "", AccountEventKind.OTHER)
    limit = _str(value.get("current_limit")) or _str(
        value.get("max_daily_conversations_per_business")
    )
    return AccountEvent(
        event_id=_event_id(field, entry, value),
        name=name,
        notice=OperatorNotice(
            kind=kind,
            waba_id=_str(entry.get("id")) or None,
            number=_str(value.get("display_phone_number")) or None,
            quality=quality,
            limit=_tier(limit),
            previous_limit=_tier(_str(value.get("old_limit"))),
        ),
    )


def _tier(value: str) -> str | None:
    """A messaging limit as conversations a day: ``TIER_1K`` -> ``1K``."""
    return value.upper().removeprefix("TIER_") or None


_ACCOUNT_FIELDS: Final[Mapping[str, Callable[..., AccountEvent]]] = {
    "account_update": _account_update,
    "phone_number_quality_update": _number_quality_update,
}


#: What no database of ours stores: NUL (PostgreSQL's text and jsonb refuse it) and lone
#: surrogates (no UTF-8 encoder takes them). JSON may escape both, so each becomes U+FFFD: the
#: message is kept, with a mark where the character was, instead of failing at every try.
_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")
#: Meta's error codes are small; a bigger one fits no integer column.
_MAX_CODE: Final = 2**31 - 1
#: The longest value of each field that names something (storage/models.py: PostgreSQL
#: refuses longer ones). A longer id is no id Meta made: its item is kept as unknown. Words a
#: person reads are cut instead, and codes from a short vocabulary are dropped.
_MAX_WAMID: Final = 256
_MAX_NUMBER_ID: Final = 64
_MAX_WA_ID: Final = 32
_MAX_USER_ID: Final = 128
_MAX_NAME: Final = 256
_MAX_SHORT: Final = 32
_MAX_TITLE: Final = 512
_MAX_LANGUAGE: Final = 16


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


def _not_a_number(constant: str) -> None:
    """``NaN`` and ``Infinity`` are not JSON (PostgreSQL refuses them): read as null."""
    return None


class _MalformedError(Exception):
    """An item lacks what the core cannot do without; it becomes an ``UnknownEvent``."""


class WebhookParser:
    """Satisfies ``bridge.ports.WebhookParser``: raw body in, every event out, in order."""

    def parse(self, body: bytes) -> list[WebhookEvent]:
        """Every event of a webhook body; ``WebhookParseError`` if it is not a JSON object."""
        try:
            # UTF-8 only, as RFC 8259 asks (json.loads would also guess UTF-16 and UTF-32, and
            # let encoded surrogates through).
            payload = json.loads(body.decode("utf-8"), parse_constant=_not_a_number)
            if b"\\u" in body:  # only an escape can make a NUL or a lone surrogate
                payload = _storable(payload)
        except (ValueError, RecursionError) as error:  # bad JSON or UTF-8, or absurd nesting
            raise WebhookParseError(f"webhook body is not JSON: {type(error).__name__}") from None
        if not isinstance(payload, dict):
            raise WebhookParseError(f"webhook body is JSON {type(payload).__name__}, not an object")
        return parse_payload(payload)


def parse_payload(payload: Mapping[str, Any]) -> list[WebhookEvent]:
    """Every event of an already decoded webhook payload; never raises."""
    return list(_events(payload))


def _events(payload: Mapping[str, Any]) -> Iterator[WebhookEvent]:
    entries = payload.get("entry")
    if not isinstance(entries, list):
        yield UnknownEvent(kind="malformed_payload", raw=dict(payload))
        return
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            yield UnknownEvent(kind="malformed_entry", raw=_as_dict(entry))
            continue
        for change in changes:
            yield from _change_events(change, entry)


def _change_events(change: object, entry: Mapping[str, Any]) -> Iterator[WebhookEvent]:
    if not isinstance(change, dict):
        yield UnknownEvent(kind="malformed_change", raw=_as_dict(change))
        return
    field = change.get("field")
    entry_id = _str(entry.get("id"))
    if isinstance(field, str) and field in _TEMPLATE_FIELDS:
        yield _guard("malformed_template_update", change.get("value"), _template_update, entry_id)
        return
    if isinstance(field, str) and field in _ACCOUNT_FIELDS:
        build = _ACCOUNT_FIELDS[field]
        yield _guard(f"malformed_{field}", change.get("value"), build, entry, field)
        return
    if field != "messages":
        yield UnknownEvent(kind=f"field:{field}", raw=change)
        return
    value = change.get("value")
    if not isinstance(value, dict):
        yield UnknownEvent(kind="malformed_change", raw=change)
        return
    metadata = value.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    phone_number_id = _str(metadata.get("phone_number_id"))
    display = _str(metadata.get("display_phone_number"))
    contacts = [c for c in _list(value.get("contacts")) if isinstance(c, dict)]
    messages, statuses, errors = (_list(value.get(k)) for k in ("messages", "statuses", "errors"))
    for message in messages:
        yield _guard(
            "malformed_message", message, _inbound, phone_number_id, display, contacts, errors
        )
    for status in statuses:
        yield _guard("malformed_status", status, _status, phone_number_id)
    if not messages:  # with messages, Meta's errors explain them and travel in their content
        for error in errors:
            yield UnknownEvent(kind="error", raw=_as_dict(error))
    if not (messages or statuses or errors):
        yield UnknownEvent(kind="messages:other", raw=change)


def _guard(kind: str, item: object, build: Callable[..., WebhookEvent], *args: Any) -> WebhookEvent:
    if not isinstance(item, dict):
        return UnknownEvent(kind=kind, raw=_as_dict(item))
    try:
        return build(item, *args)
    except _MalformedError as why:
        log.warning("webhook item kept as %s: %s", kind, why)
        return UnknownEvent(kind=kind, raw=item)


def _inbound(
    m: dict[str, Any],
    phone_number_id: str,
    display: str,
    contacts: list[dict[str, Any]],
    change_errors: list[Any],
) -> InboundMessage:
    wamid = _required(m, "id", limit=_MAX_WAMID)
    if not phone_number_id or len(phone_number_id) > _MAX_NUMBER_ID:
        raise _MalformedError("no metadata.phone_number_id")
    kind = _fit(_str(m.get("type")), _MAX_SHORT) or "unknown"
    sender = _str(m.get("from"))
    user_id = _str(m.get("from_user_id"))
    contact = _find_contact(contacts, sender, user_id)
    contact_id = sender or user_id or _str(contact.get("user_id"))
    if not contact_id:
        raise _MalformedError("no from, from_user_id or contact user_id")
    if len(contact_id) > (_MAX_WA_ID if contact_id.isdigit() else _MAX_USER_ID):
        raise _MalformedError("sender id too long")
    profile = contact.get("profile")
    name = _str(profile.get("name"))[:_MAX_NAME] if isinstance(profile, dict) else ""
    content = _content(m, kind, change_errors)
    context = m.get("context")
    context_wamid = _str(context.get("id")) if isinstance(context, dict) else ""
    if not context_wamid and kind in _TARGET_KEYS:
        context_wamid = _str(content.get(_TARGET_KEYS[kind]))
    if isinstance(context, dict):
        # What the customer sees around the message: forwarded, or asking about a product.
        for flag in ("forwarded", "frequently_forwarded"):
            if context.get(flag) is True:
                content[flag] = True
        if isinstance(context.get("referred_product"), dict):
            content["referred_product"] = dict(context["referred_product"])
    referral = m.get("referral")
    if isinstance(referral, dict):  # the customer came from a click-to-WhatsApp ad
        content["referral"] = dict(referral)
    return InboundMessage(
        wamid=wamid,
        phone_number_id=phone_number_id,
        display_phone_number=_fit(display, _MAX_SHORT),
        contact_id=contact_id,
        contact_name=name or None,
        timestamp=_timestamp(m.get("timestamp")),
        message_type=kind,
        text=_readable_text(kind, content),
        content=content,
        context_wamid=context_wamid or None,
    )


def _status(s: dict[str, Any], phone_number_id: str) -> StatusUpdate:
    wamid = _required(s, "id", limit=_MAX_WAMID)
    raw_status = _required(s, "status")
    if not phone_number_id or len(phone_number_id) > _MAX_NUMBER_ID:
        raise _MalformedError("no metadata.phone_number_id")
    errors = _list(s.get("errors"))
    error = errors[0] if errors and isinstance(errors[0], dict) else {}
    error_data = error.get("error_data")
    details = _str(error_data.get("details")) if isinstance(error_data, dict) else ""
    code = error.get("code")
    pricing = _dict(s.get("pricing"))
    billable = pricing.get("billable")
    return StatusUpdate(
        wamid=wamid,
        phone_number_id=phone_number_id,
        status=_STATUSES.get(raw_status),
        raw_status=raw_status,
        timestamp=_timestamp(s.get("timestamp")),
        recipient_id=_str(s.get("recipient_id")) or None,
        error_code=code if _is_code(code) else None,
        error_title=_str(error.get("title"))[:_MAX_TITLE] or None,
        error_details=details or _str(error.get("message")) or None,
        problem=problem_of(code) if raw_status == "failed" and _is_code(code) else None,
        pricing_category=_fit(_str(pricing.get("category")).lower(), _MAX_SHORT) or None,
        billable=billable if isinstance(billable, bool) else None,
        pricing_model=_fit(_str(pricing.get("pricing_model")).upper(), _MAX_SHORT) or None,
    )


def _is_code(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_CODE


def _find_contact(contacts: list[dict[str, Any]], wa_id: str, user_id: str) -> dict[str, Any]:
    for contact in contacts:
        if wa_id and contact.get("wa_id") == wa_id:
            return contact
        if user_id and contact.get("user_id") == user_id:
            return contact
    # A single contact is the sender even when ids are missing (usernames without a wa_id).
    if len(contacts) == 1 and not (wa_id and contacts[0].get("wa_id")):
        return contacts[0]
    return {}


def _content(m: dict[str, Any], kind: str, change_errors: list[Any]) -> dict[str, Any]:
    body = m.get(kind)
    if isinstance(body, dict):
        return dict(body)
    content: dict[str, Any] = {} if body is None else {kind: body}  # e.g. contacts is a list
    # A message Meta could not render carries only its explanation, on it or beside it.
    errors = m.get("errors") or change_errors
    if errors:
        content["errors"] = errors
    return content


def _readable_text(kind: str, content: dict[str, Any]) -> str | None:
    """What a person would read as the message's text, where that is obvious."""
    text: object = None
    if kind in ("text", "system"):
        text = content.get("body")
    elif kind in _CAPTIONED:
        text = content.get("caption")
    elif kind == "button":
        text = content.get("text")
    elif kind == "reaction":
        text = content.get("emoji")
    elif kind == "interactive":
        reply = content.get(_str(content.get("type")))
        if isinstance(reply, dict):
            text = reply.get("title") or reply.get("body")
    elif kind == "location":
        text = ", ".join(s for s in (_str(content.get("name")), _str(content.get("address"))) if s)
    elif kind == "order":
        text = content.get("text")
    elif kind == "edit":
        inner = content.get("message")
        if isinstance(inner, dict):
            inner_kind = _str(inner.get("type"))
            inner_content = inner.get(inner_kind)
            if inner_kind != "edit" and isinstance(inner_content, dict):
                text = _readable_text(inner_kind, inner_content)
    elif kind == "contacts":
        cards = [c for c in _list(content.get("contacts")) if isinstance(c, dict)]
        names = [c.get("name") for c in cards]
        text = ", ".join(_str(n.get("formatted_name")) for n in names if isinstance(n, dict))
    return text if isinstance(text, str) and text else None


def _timestamp(value: object) -> datetime:
    # Meta sends epoch seconds as a string; accept a number too.
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise _MalformedError(f"bad timestamp {value!r:.40}") from None


def _required(item: dict[str, Any], key: str, *, limit: int | None = None) -> str:
    value = _str(item.get(key))
    if not value:
        raise _MalformedError(f"no {key}")
    if limit is not None and len(value) > limit:
        raise _MalformedError(f"{key} longer than {limit}")
    return value


def _fit(value: str, limit: int) -> str:
    """A code from a short vocabulary, or "" when it is longer than any of them."""
    return value if len(value) <= limit else ""


def _maybe_timestamp(value: object) -> datetime | None:
    try:
        return _timestamp(value)
    except _MalformedError:
        return None


def _optional_str(value: object) -> str | None:
    """A text Meta sent (possibly empty, which clears it), or None when it sent none."""
    return value if isinstance(value, str) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"value": value}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
