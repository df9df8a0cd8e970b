"""Slack's error strings, classified in one table."""

from __future__ import annotations

import pytest

from bridge.domain import FailureKind
from slack_app.errors import classify


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        ("ratelimited", 429, FailureKind.THROTTLED),
        ("internal_error", 200, FailureKind.TRANSIENT),
        ("fatal_error", 200, FailureKind.TRANSIENT),
        ("service_unavailable", 200, FailureKind.TRANSIENT),
        ("http_502", 502, FailureKind.TRANSIENT),
        ("invalid_auth", 200, FailureKind.AUTH),
        ("token_revoked", 200, FailureKind.AUTH),
        ("account_inactive", 200, FailureKind.AUTH),
        # One channel out of reach: that channel's work waits, the others' goes on.
        ("not_in_channel", 200, FailureKind.TRANSIENT),
        ("channel_not_found", 200, FailureKind.TRANSIENT),
        ("is_archived", 200, FailureKind.TRANSIENT),
        ("message_not_found", 200, FailureKind.PERMANENT),
        ("msg_too_long", 200, FailureKind.PERMANENT),
        ("invalid_blocks", 200, FailureKind.PERMANENT),
        ("missing_scope", 200, FailureKind.PERMANENT),
        ("some_error_slack_adds_next_year", 200, FailureKind.PERMANENT),
    ],
)
def test_every_ok_false_error_has_a_kind(error: str, status: int, kind: FailureKind) -> None:
    assert classify(error, status) == kind
