"""Errors of the Meta Graph API adapter, and the one table that classifies Meta's codes.

bridge.errors.DeliveryError
 ├── MetaAPIError        Meta answered with an HTTP error (code, title, details, fbtrace_id)
 └── MetaTransportError  no usable answer at all: connection failure or timeout

``MetaAPIError.from_response`` is the only place an HTTP failure becomes an error, and
``CLASSIFICATION`` the only place that knows what a Meta code means: what happens to the
job (a ``FailureKind``) and what the agent is told (a ``DeliveryProblem``). This module is
the only one in wabridge that knows a Meta error code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import httpx

from bridge.domain import DeliveryProblem, FailureKind
from bridge.errors import DeliveryError

__all__ = [
    "CLASSIFICATION",
    "KNOWN_TITLES",
    "PAIR_RATE_BACKOFF",
    "MetaAPIError",
    "MetaTransportError",
    "classify",
    "is_number_throttled",
    "is_unknown_object",
    "problem_of",
]

_P = DeliveryProblem
_TRANSIENT, _THROTTLED = FailureKind.TRANSIENT, FailureKind.THROTTLED
_PERMANENT, _AUTH = FailureKind.PERMANENT, FailureKind.AUTH

#: Meta error code -> (what happens to the job, what the agent is told). The retry and
#: never-retry lists are NOTES.md's, exactly. Auth codes pause all WhatsApp work until the
#: token works again. A code missing here is decided by the HTTP status (``classify``).
CLASSIFICATION: Final[Mapping[int, tuple[FailureKind, DeliveryProblem]]] = MappingProxyType(
    {
        # Retry, with backoff.
        1: (_TRANSIENT, _P.TEMPORARY),
        2: (_TRANSIENT, _P.TEMPORARY),
        4: (_THROTTLED, _P.THROTTLED),
        80007: (_THROTTLED, _P.THROTTLED),
        130429: (_THROTTLED, _P.THROTTLED),
        131000: (_TRANSIENT, _P.TEMPORARY),
        131016: (_TRANSIENT, _P.TEMPORARY),
        131056: (_THROTTLED, _P.RECIPIENT_THROTTLED),
        131057: (_TRANSIENT, _P.TEMPORARY),
        133004: (_TRANSIENT, _P.TEMPORARY),
        # Credentials and permissions: an admin must act; nothing is discarded meanwhile.
        0: (_AUTH, _P.CREDENTIALS),
        190: (_AUTH, _P.CREDENTIALS),
        10: (_AUTH, _P.PERMISSION),
        # Never retry.
        3: (_PERMANENT, _P.PERMISSION),
        100: (_PERMANENT, _P.INVALID_MESSAGE),
        368: (_PERMANENT, _P.POLICY_BLOCK),
        130403: (_PERMANENT, _P.OTHER),
        130472: (_PERMANENT, _P.EXPERIMENT),
        131005: (_PERMANENT, _P.PERMISSION),
        131008: (_PERMANENT, _P.INVALID_MESSAGE),
        131009: (_PERMANENT, _P.INVALID_MESSAGE),
        131021: (_PERMANENT, _P.INVALID_MESSAGE),
        131026: (_PERMANENT, _P.UNDELIVERABLE),
        131031: (_PERMANENT, _P.POLICY_BLOCK),
        131042: (_PERMANENT, _P.BILLING),
        131045: (_PERMANENT, _P.NUMBER_NOT_REGISTERED),
        131047: (_PERMANENT, _P.WINDOW_CLOSED),
        131048: (_PERMANENT, _P.POLICY_BLOCK),
        131049: (_PERMANENT, _P.MARKETING_HELD),
        131050: (_PERMANENT, _P.MARKETING_STOPPED),
        131051: (_PERMANENT, _P.TYPE_UNSUPPORTED),
        131052: (_PERMANENT, _P.MEDIA_UNSUPPORTED),
        131053: (_PERMANENT, _P.MEDIA_FAILED),
        131063: (_PERMANENT, _P.OTHER),
        131064: (_PERMANENT, _P.OTHER),
        133010: (_PERMANENT, _P.NUMBER_NOT_REGISTERED),
        **dict.fromkeys(range(132000, 132017), (_PERMANENT, _P.TEMPLATE)),
        # The template's name is known, but not in the language asked for.
        132001: (_PERMANENT, _P.TEMPLATE_LANGUAGE),
    }
)

#: Meta asks for 4^n seconds between tries when the pair rate (131056) is hit.
PAIR_RATE_BACKOFF: Final = 4.0
_PAIR_RATE: Final = 131056
_THROUGHPUT: Final = 130429

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
        131050: "User has stopped marketing messages",
        131051: "Unsupported message type",
        131053: "Media upload error",
        131056: "(Business Account, Consumer Account) pair rate limit hit",
        132000: "Template Param Count Mismatch",
        132001: "Template does not exist",
        133010: "Phone number not registered",
    }
)
_CODE_PREFIX: Final = re.compile(r"^\s*\(#\d+\)\s*")


def classify(code: int | None, http_status: int | None) -> FailureKind:
    """What a failure means for the job: the code's entry in the table, else the HTTP status
    (5xx and a bare 429 are worth a retry, anything else is not)."""
    if code is not None and code in CLASSIFICATION:
        return CLASSIFICATION[code][0]
    if http_status is None:
        return _PERMANENT
    if http_status == 429 and code is None:  # throttling, whatever proxy answered it
        return _THROTTLED
    if http_status in (401, 403) and code is None:
        return _AUTH
    return _TRANSIENT if http_status >= 500 else _PERMANENT


#: Meta's code for an object that does not exist, or that this token may not see.
_UNKNOWN_OBJECT: Final = 100


def is_number_throttled(error: DeliveryError) -> bool:
    """Whether Meta said the business number sends faster than its throughput (130429)."""
    return isinstance(error, MetaAPIError) and error.code == _THROUGHPUT


def is_unknown_object(error: DeliveryError) -> bool:
    """Whether Meta said the object asked for (a phone number id, an account) is unknown."""
    return isinstance(error, MetaAPIError) and error.code == _UNKNOWN_OBJECT


def problem_of(code: int | None) -> DeliveryProblem:
    """What the agent is told about a code (a status webhook's, or an API answer's)."""
    if code is not None and code in CLASSIFICATION:
        return CLASSIFICATION[code][1]
    return DeliveryProblem.OTHER


class MetaAPIError(DeliveryError):
    """Meta answered a request with an error; ``code`` is what to branch on."""

    def __init__(
        self,
        *,
        code: int | None,
        title: str,
        details: str = "",
        kind: FailureKind,
        problem: DeliveryProblem | None = None,
        http_status: int | None = None,
        fbtrace_id: str | None = None,
        type: str | None = None,  # Meta's own field name, kept for recognisability
        subcode: int | None = None,
    ) -> None:
        if problem is None:
            problem = problem_of(code) if code is not None else _status_problem(kind)
        super().__init__(
            code=code,
            title=title,
            details=details,
            kind=kind,
            problem=problem,
            reason=f"meta:{code}" if code is not None else f"meta:http_{http_status}",
            backoff_base=PAIR_RATE_BACKOFF if code == _PAIR_RATE else None,
            http_status=http_status,
            fbtrace_id=fbtrace_id,
        )
        self.type = type
        self.subcode = subcode

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, title={self.title!r}, "
            f"http_status={self.http_status!r}, kind={self.kind.value!r}, "
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
            kind=classify(code, status),
            http_status=status,
            fbtrace_id=_str(envelope.get("fbtrace_id")) or None,
            type=_str(envelope.get("type")) or None,
            subcode=_int_or_none(envelope.get("error_subcode")),
        )


class MetaTransportError(DeliveryError):
    """No usable answer from Meta (connection refused, reset, timeout).

    ``sent`` says whether the request may have reached Meta: a send that may have left is
    an unknown outcome, never retried blindly; anything else is transient.
    """

    def __init__(self, details: str, *, sent: bool = False) -> None:
        super().__init__(
            code=None,
            title="Could not reach WhatsApp (Meta)",
            details=details,
            kind=FailureKind.UNKNOWN_OUTCOME if sent else FailureKind.TRANSIENT,
            problem=DeliveryProblem.UNKNOWN_OUTCOME if sent else DeliveryProblem.TEMPORARY,
            reason="meta:no_answer" if sent else "meta:unreachable",
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(details={self.details!r}, kind={self.kind.value!r})"


def _status_problem(kind: FailureKind) -> DeliveryProblem:
    return {
        FailureKind.TRANSIENT: DeliveryProblem.TEMPORARY,
        FailureKind.THROTTLED: DeliveryProblem.THROTTLED,
        FailureKind.AUTH: DeliveryProblem.CREDENTIALS,
    }.get(kind, DeliveryProblem.OTHER)


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
