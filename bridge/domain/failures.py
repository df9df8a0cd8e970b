"""How an outside call failed, in the core's words: the adapters map their own codes onto these.

``FailureKind`` decides what happens to a job; ``DeliveryProblem`` decides what the agent
is told about a WhatsApp message that did not go out; ``NextStep`` is what the agent is
offered to do about it. None of them knows a Meta or Slack code.
"""

from __future__ import annotations

import enum

__all__ = ["DeliveryProblem", "FailureKind", "NextStep", "next_step_after"]


class FailureKind(enum.StrEnum):
    """What a failed outside call means for the job that made it."""

    #: A retry may help: retried with capped backoff for up to ``WABRIDGE_RETRY_FOR``.
    TRANSIENT = "transient"
    #: The other side asked us to slow down: retried after the delay it gave, same bound.
    THROTTLED = "throttled"
    #: Retrying cannot help: the job ends ``failed`` at once, with its reason.
    PERMANENT = "permanent"
    #: Credentials or access an operator must fix: that adapter's work pauses, nothing is
    #: discarded, and it resumes by itself once a call succeeds again.
    AUTH = "auth"
    #: The request left and no answer came: it may have taken effect, so it is never
    #: repeated blindly.
    UNKNOWN_OUTCOME = "unknown_outcome"

    @property
    def retryable(self) -> bool:
        return self in (FailureKind.TRANSIENT, FailureKind.THROTTLED)


class DeliveryProblem(enum.StrEnum):
    """Why a WhatsApp message did not go out, as far as the agent needs to know."""

    WINDOW_CLOSED = "window_closed"
    UNDELIVERABLE = "undeliverable"
    CREDENTIALS = "credentials"
    PERMISSION = "permission"
    POLICY_BLOCK = "policy_block"
    BILLING = "billing"
    NUMBER_NOT_REGISTERED = "number_not_registered"
    THROTTLED = "throttled"
    RECIPIENT_THROTTLED = "recipient_throttled"
    MARKETING_HELD = "marketing_held"
    MARKETING_STOPPED = "marketing_stopped"
    MEDIA_UNSUPPORTED = "media_unsupported"
    MEDIA_FAILED = "media_failed"
    MEDIA_TOO_LARGE = "media_too_large"
    #: WhatsApp no longer has a customer's file (it keeps them for a limited time).
    MEDIA_GONE = "media_gone"
    TYPE_UNSUPPORTED = "type_unsupported"
    EXPERIMENT = "experiment"
    TEMPLATE = "template"
    TEMPLATE_LANGUAGE = "template_language"
    TEMPORARY = "temporary"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_OUTCOME = "unknown_outcome"
    EARLIER_PART_FAILED = "earlier_part_failed"
    #: Slack would not hand over the file an agent shared (it never reached WhatsApp).
    FILE_NOT_FETCHED = "file_not_fetched"
    #: The conversation's business number is no longer one the bridge serves (removed).
    NUMBER_NOT_SERVED = "number_not_served"
    OTHER = "other"


class NextStep(enum.StrEnum):
    """What an agent can do, with one click, about a message that did not go out."""

    #: Retries ran out on a temporary failure: a new send of the same content may go through.
    RETRY = "retry"
    #: Nobody knows whether it arrived: a new send may reach the customer twice.
    SEND_AGAIN = "send_again"
    #: The 24-hour window is closed: only an approved template can go out.
    SEND_TEMPLATE = "send_template"


#: Problems a new try may get past: the bridge gave up retrying, the agent may try again.
_WORTH_ANOTHER_TRY = frozenset(
    {DeliveryProblem.TEMPORARY, DeliveryProblem.THROTTLED, DeliveryProblem.RECIPIENT_THROTTLED}
)


def next_step_after(
    problem: DeliveryProblem | None, kind: FailureKind | None = None
) -> NextStep | None:
    """What to offer the agent after a delivery failure: decided by the problem, which a
    send refused at once and a ``failed`` status both carry; the failure's kind helps only
    when the problem is unknown (a bridge-side failure that kept recurring)."""
    if problem == DeliveryProblem.WINDOW_CLOSED:
        return NextStep.SEND_TEMPLATE
    if problem == DeliveryProblem.UNKNOWN_OUTCOME or kind == FailureKind.UNKNOWN_OUTCOME:
        return NextStep.SEND_AGAIN
    if problem in _WORTH_ANOTHER_TRY or (problem is None and kind is not None and kind.retryable):
        return NextStep.RETRY
    return None
