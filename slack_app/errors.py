"""Slack's failures, classified in one table: the only place that knows a Slack error string.

Every ``ok: false`` answer of the Web API names its error; ``classify`` says what it means
for the job that made the call. An error missing from the tables is permanent (Slack's
errors are overwhelmingly about the request itself), unless Slack answered 5xx.
"""

from __future__ import annotations

from typing import Final

from bridge.domain import FailureKind

__all__ = ["ACCESS", "ALREADY_DONE", "CHANNEL", "TRANSIENT", "classify"]

#: A retry may help.
TRANSIENT: Final = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "timeout",
        "team_added_to_org",
    }
)

#: Credentials or access an operator must fix: every Slack call would fail the same way, so
#: Slack work pauses (nothing is discarded) until a call succeeds again.
ACCESS: Final = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "org_login_required",
        "ekm_access_denied",
        "team_access_not_granted",
        "not_allowed_token_type",
        "no_permission",
        "access_denied",
    }
)

#: The app cannot reach one channel: removed from it, or it was archived or deleted. Other
#: channels (other numbers') are fine, so only that channel's work waits: retried with
#: backoff for up to ``WABRIDGE_RETRY_FOR``, and it goes on by itself once the app is back
#: in the channel (``/wa status`` shows what waits, and why).
CHANNEL: Final = frozenset({"not_in_channel", "channel_not_found", "is_archived"})

#: Answers that mean the call's effect is already there: success, for an idempotent call.
ALREADY_DONE: Final = frozenset({"already_reacted", "no_reaction"})


def classify(error: str, http_status: int) -> FailureKind:
    """What a Slack failure means for the job: retry, give up, or pause Slack work."""
    if http_status == 429 or error in TRANSIENT or error in CHANNEL or http_status >= 500:
        return FailureKind.THROTTLED if http_status == 429 else FailureKind.TRANSIENT
    if error in ACCESS:
        return FailureKind.AUTH
    return FailureKind.PERMANENT
