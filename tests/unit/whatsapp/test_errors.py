"""The error table and ``MetaAPIError.from_response``, the one place HTTP failures become errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bridge.domain import DeliveryProblem, FailureKind
from bridge.errors import DeliveryError
from whatsapp.errors import (
    CLASSIFICATION,
    PAIR_RATE_BACKOFF,
    MetaAPIError,
    MetaTransportError,
    classify,
    problem_of,
)

# Straight from NOTES.md, "Errors": the lists the table must match exactly.
NOTES_RETRY = [1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057, 133004]
NOTES_NEVER_RETRY = [
    *[0, 3, 10, 100, 190, 368, 130403, 130472, 131005, 131008, 131009, 131021, 131026],
    *[131031, 131042, 131045, 131047, 131048, 131049, 131050, 131051, 131052, 131053],
    *[131063, 131064, 133010],
    *range(132000, 132017),
]
#: The credentials and permission codes: they pause WhatsApp work instead of failing it.
AUTH = [0, 10, 190]


@pytest.mark.parametrize("code", NOTES_RETRY)
def test_retry_codes_are_retried_even_on_a_4xx(code: int) -> None:
    assert CLASSIFICATION[code][0].retryable
    assert classify(code, 400).retryable


@pytest.mark.parametrize("code", NOTES_NEVER_RETRY)
def test_never_retry_codes_are_never_retried(code: int) -> None:
    expected = FailureKind.AUTH if code in AUTH else FailureKind.PERMANENT
    assert classify(code, 400) == expected


def test_the_table_holds_exactly_the_notes_lists() -> None:
    assert set(CLASSIFICATION) == set(NOTES_RETRY) | set(NOTES_NEVER_RETRY)


def test_throughput_codes_are_throttling_and_the_pair_rate_backs_off_steeper() -> None:
    assert {c for c, (kind, _) in CLASSIFICATION.items() if kind == FailureKind.THROTTLED} == {
        4,
        80007,
        130429,
        131056,
    }
    pair = MetaAPIError(code=131056, title="pair rate", kind=classify(131056, 400))
    assert pair.backoff_base == PAIR_RATE_BACKOFF
    assert MetaAPIError(code=130429, title="x", kind=FailureKind.THROTTLED).backoff_base is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_any_5xx_with_an_unknown_code_is_transient(status: int) -> None:
    assert classify(None, status) == FailureKind.TRANSIENT
    assert classify(999_999, status) == FailureKind.TRANSIENT


@pytest.mark.parametrize("status", [400, 404, 422])
def test_unknown_4xx_codes_are_permanent(status: int) -> None:
    assert classify(999_999, status) == FailureKind.PERMANENT
    assert classify(None, status) == FailureKind.PERMANENT


def test_a_bare_401_pauses_and_a_bare_429_throttles() -> None:
    assert classify(None, 401) == FailureKind.AUTH
    assert classify(None, 429) == FailureKind.THROTTLED


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        (131047, DeliveryProblem.WINDOW_CLOSED),
        (131026, DeliveryProblem.UNDELIVERABLE),
        (190, DeliveryProblem.CREDENTIALS),
        (131056, DeliveryProblem.RECIPIENT_THROTTLED),
        (132000, DeliveryProblem.TEMPLATE),
        (132001, DeliveryProblem.TEMPLATE_LANGUAGE),
        (131053, DeliveryProblem.MEDIA_FAILED),
        (131052, DeliveryProblem.MEDIA_UNSUPPORTED),
        (131050, DeliveryProblem.MARKETING_STOPPED),
        (424242, DeliveryProblem.OTHER),
        (None, DeliveryProblem.OTHER),
    ],
)
def test_each_code_tells_the_agent_its_problem(code: int | None, problem: DeliveryProblem) -> None:
    assert problem_of(code) == problem


def response(status: int, body: Any, *, raw: bytes | None = None) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"content-type": "application/json"})


def envelope(code: int, message: str, details: str = "", **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "AbCdEf123",
        **extra,
    }
    return {"error": error}


def test_from_response_reads_meta_s_envelope() -> None:
    body = envelope(131047, "(#131047) Re-engagement message", "More than 24 hours have passed")
    error = MetaAPIError.from_response(response(400, body))
    assert isinstance(error, DeliveryError)
    assert (error.code, error.title) == (131047, "Re-engagement message")
    assert error.details == "More than 24 hours have passed"
    assert (error.fbtrace_id, error.http_status, error.type) == ("AbCdEf123", 400, "OAuthException")
    assert error.transient is False
    assert str(error) == "(131047) Re-engagement message: More than 24 hours have passed"


def test_from_response_marks_throttling_transient() -> None:
    body = envelope(130429, "(#130429) Rate limit hit", "Cloud API message throughput")
    assert MetaAPIError.from_response(response(400, body)).transient is True


def test_a_message_without_the_code_prefix_is_the_title() -> None:
    body = envelope(190, "Error validating access token: Session has expired", error_subcode=463)
    error = MetaAPIError.from_response(response(401, body))
    assert error.title == "Error validating access token: Session has expired"
    assert (error.code, error.subcode, error.transient) == (190, 463, False)


def test_a_missing_message_takes_the_known_title() -> None:
    error = MetaAPIError.from_response(response(400, {"error": {"code": 131026}}))
    assert (error.code, error.title, error.details) == (131026, "Message undeliverable", "")


@pytest.mark.parametrize(
    ("status", "raw", "transient"),
    [
        (502, b"<html>Bad Gateway</html>", True),
        (500, b"", True),
        (400, b"not json", False),
        (404, b"\xff\xfe", False),
        (429, b"slow down", True),
    ],
)
def test_a_non_json_body_still_becomes_an_error(status: int, raw: bytes, transient: bool) -> None:
    error = MetaAPIError.from_response(response(status, None, raw=raw))
    assert error.code is None
    assert error.title.startswith(f"HTTP {status}")
    assert (error.http_status, error.transient) == (status, transient)


@pytest.mark.parametrize("body", [{}, {"error": "boom"}, [1, 2], {"error": {"code": "x"}}])
def test_a_missing_or_odd_envelope_is_handled(body: Any) -> None:
    error = MetaAPIError.from_response(response(503, body))
    assert (error.code, error.http_status, error.transient) == (None, 503, True)


def test_transport_errors_before_sending_are_transient_after_sending_unknown() -> None:
    before = MetaTransportError("ConnectError: refused")
    assert isinstance(before, DeliveryError)
    assert before.kind == FailureKind.TRANSIENT and before.transient
    assert "refused" in str(before)
    after = MetaTransportError("ReadTimeout", sent=True)
    assert after.kind == FailureKind.UNKNOWN_OUTCOME and not after.transient
    assert after.problem == DeliveryProblem.UNKNOWN_OUTCOME
