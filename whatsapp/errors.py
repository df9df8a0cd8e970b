"""Errors of the Meta Graph API adapter, and the one table that says which are transient.

bridge.errors.DeliveryError
 ├── MetaAPIError        Meta answered with an HTTP error (code, title, details, fbtrace_id)
 └── MetaTransportError  no usable answer at all: connection failure or timeout (transient)

``MetaAPIError.from_response`` is the only place an HTTP failure becomes an error, and
``TRANSIENT_BY_CODE`` the only place that decides whether a code is worth retrying.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import httpx

from bridge.errors import DeliveryError

__all__ = [
    "KNOWN_TITLES",
    "TRANSIENT_BY_CODE",
    "MetaAPIError",
    "MetaTransportError",
    "advice",
    "is_transient",
]

_RETRY: Final = (1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057, 133004)
_NEVER_RETRY: Final = (
    *(0, 3, 10, 100, 190, 368, 130403, 130472, 131005, 131008, 131009, 131021, 131026),
    *(131031, 131042, 131045, 131047, 131048, 131049, 131050, 131051, 131052, 131053),
    *(131063, 131064, 133010),
    *range(132000, 132017),
)

#: Meta error code -> whether retrying may help, exactly as NOTES.md lists them. A code
#: missing here is decided by the HTTP status (5xx transient, anything else not).
TRANSIENT_BY_CODE: Final[Mapping[int, bool]] = MappingProxyType(
    {**dict.fromkeys(_NEVER_RETRY, False), **dict.fromkeys(_RETRY, True)}
)

#: Titles for when Meta's message is missing; Meta's own wording wins when present.
KNOWN_TITLES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "AuthException",
        1: "API Unknown",
        2: "API Service",
        4: "API Too Many Calls",
        10: "Permission Denied",
        100: "Invalid parameter",
        190: "Access token has expired",
        368: "Temporarily blocked for policies violations",
        80007: "Rate limit issues",
        130429: "Rate limit hit",
        130472: "User's number is part of an experiment",
        131000: "Something went wrong",
        131026: "Message undeliverable",
        131047: "Re-engagement message",
        131049: "Meta chose not to deliver",
        131051: "Unsupported message type",
        131056: "(Business Account, Consumer Account) pair rate limit hit",
        132000: "Template Param Count Mismatch",
        132001: "Template does not exist",
        133010: "Phone number not registered",
    }
)

_ADVICE: Final[Mapping[int, str]] = MappingProxyType(
    {
        131047: "The 24-hour window is closed: send an approved template instead.",
        131026: (
            "The message cannot be delivered to this number (not on WhatsApp, an old app, "
            "or terms not accepted): reach the customer another way."
        ),
        190: "The WhatsApp access token is invalid or expired: tell an admin.",
        0: "WhatsApp refused our credentials: tell an admin.",
        10: "The WhatsApp app lacks a permission: tell an admin.",
        368: "The business account is blocked for a policy violation: tell an admin.",
        131042: "There is a billing problem with the WhatsApp account: tell an admin.",
        133010: "The business phone number is not registered: tell an admin.",
        130429: "Too many messages at once: slowing down, the bridge will retry.",
        131056: "Too many messages to this customer in a short time: the bridge will retry.",
        131049: "WhatsApp held back this marketing message for this user: try again later.",
        131053: "WhatsApp does not accept this media type: send another format.",
        131051: "This message type is not supported by WhatsApp.",
        130472: "This customer is in a WhatsApp experiment and cannot get this message.",
    }
)
_TEMPLATE_ADVICE: Final = (
    "Template problem (wrong parameters, not approved in that language, paused or "
    "disabled): check the template."
)
_CODE_PREFIX: Final = re.compile(r"^\s*\(#\d+\)\s*")


def is_transient(code: int | None, http_status: int | None) -> bool:
    """Whether a retry may help: the code's entry in the table, else whether Meta answered 5xx."""
    if code is not None and code in TRANSIENT_BY_CODE:
        return TRANSIENT_BY_CODE[code]
    if http_status is None:
        return False
    # A bare 429 without an envelope is still throttling, whatever proxy answered it.
    return http_status >= 500 or (code is None and http_status == 429)


def advice(code: int | None) -> str:
    """One sentence telling a busy support agent what to do about an error code."""
    if code is not None and code in _ADVICE:
        return _ADVICE[code]
    if code is not None and 132000 <= code <= 132999:
        return _TEMPLATE_ADVICE
    if code is not None and TRANSIENT_BY_CODE.get(code):
        return "WhatsApp had a temporary problem: the bridge will retry."
    return "WhatsApp refused the message; see the error details or ask an admin."


class MetaAPIError(DeliveryError):
    """Meta answered a request with an error; ``code`` is what to branch on."""

    def __init__(
        self,
        *,
        code: int | None,
        title: str,
        details: str = "",
        transient: bool,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        type: str | None = None,  # Meta's own field name, kept for recognisability
        subcode: int | None = None,
    ) -> None:
        super().__init__(
            code=code,
            title=title,
            details=details,
            transient=transient,
            http_status=http_status,
            fbtrace_id=fbtrace_id,
        )
        self.type = type
        self.subcode = subcode

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, title={self.title!r}, "
            f"http_status={self.http_status!r}, transient={self.transient!r}, "
            f"fbtrace_id={self.fbtrace_id!r})"
        )

    @classmethod
    def from_response(cls, response: httpx.Response) -> MetaAPIError:
        """The error an HTTP failure means, from Meta's envelope when there is one."""
        status = response.status_code
        envelope = _envelope(response)
        code = _int_or_none(envelope.get("code"))
        message = _str(envelope.get("message"))
        title = _CODE_PREFIX.sub("", message).strip() or _str(envelope.get("error_user_title"))
        if not title:
            title = KNOWN_TITLES.get(code, "") if code is not None else ""
        if not title:
            title = f"HTTP {status} {response.reason_phrase}".strip()
        error_data = envelope.get("error_data")
        details = _str(error_data.get("details")) if isinstance(error_data, dict) else ""
        details = details or _str(envelope.get("error_user_msg"))
        return cls(
            code=code,
            title=title,
            details=details,
            transient=is_transient(code, status),
            http_status=status,
            fbtrace_id=_str(envelope.get("fbtrace_id")) or None,
            type=_str(envelope.get("type")) or None,
            subcode=_int_or_none(envelope.get("error_subcode")),
        )


class MetaTransportError(DeliveryError):
    """No usable answer from Meta (connection refused, reset, timeout); always transient."""

    def __init__(self, details: str) -> None:
        super().__init__(
            code=None, title="Could not reach WhatsApp (Meta)", details=details, transient=True
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(details={self.details!r})"


def _envelope(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:  # not JSON (a proxy's HTML page, an empty body) or not UTF-8
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""
