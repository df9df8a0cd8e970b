"""What an agent should do about a message WhatsApp did not take, one sentence per problem."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from bridge.domain import DeliveryProblem

__all__ = ["advice"]

_P = DeliveryProblem

_ADVICE: Final[Mapping[DeliveryProblem, str]] = MappingProxyType(
    {
        _P.WINDOW_CLOSED: "The 24-hour window is closed: send an approved template instead.",
        _P.UNDELIVERABLE: (
            "This number cannot receive WhatsApp messages (not on WhatsApp, an old app, or "
            "WhatsApp's terms not accepted): reach the customer another way."
        ),
        _P.CREDENTIALS: (
            "The WhatsApp access token has expired or is invalid: an admin must renew it."
        ),
        _P.PERMISSION: "The WhatsApp app lacks a permission: tell an admin.",
        _P.POLICY_BLOCK: "The business account is blocked for a policy violation: tell an admin.",
        _P.BILLING: "There is a billing problem with the WhatsApp account: tell an admin.",
        _P.NUMBER_NOT_REGISTERED: "The business phone number is not registered: tell an admin.",
        _P.THROTTLED: (
            "WhatsApp kept asking us to slow down (too many messages from this number) and "
            "the bridge stopped retrying: send it again in a little while."
        ),
        _P.RECIPIENT_THROTTLED: (
            "Too many messages to this customer in a short time, and the bridge stopped "
            "retrying: wait a minute, then send it again."
        ),
        _P.MARKETING_HELD: (
            "Meta held back this marketing message: this customer has reached their limit "
            "of marketing messages for now. Try again later, or wait until they write."
        ),
        _P.MARKETING_STOPPED: (
            "This customer has stopped marketing messages from this business: send a "
            "utility template, or wait until they write."
        ),
        _P.MEDIA_UNSUPPORTED: "WhatsApp does not accept this media type: send another format.",
        _P.MEDIA_FAILED: (
            "WhatsApp could not upload or download the file: check that it opens, then "
            "send it again."
        ),
        _P.MEDIA_TOO_LARGE: "The file is larger than can be relayed: ask for a smaller one.",
        _P.MEDIA_GONE: "WhatsApp no longer has the file: ask for it again.",
        _P.TYPE_UNSUPPORTED: "This message type is not supported by WhatsApp.",
        _P.EXPERIMENT: "This customer is in a WhatsApp experiment and cannot get this message.",
        _P.TEMPLATE: (
            "Template problem (wrong parameters, not approved in that language, paused or "
            "disabled): check the template."
        ),
        _P.TEMPLATE_LANGUAGE: (
            "This template does not exist in this language: pick another language or "
            "another template."
        ),
        _P.TEMPORARY: "WhatsApp had a temporary problem and the bridge stopped retrying: "
        "send it again.",
        _P.INVALID_MESSAGE: "WhatsApp would not accept this message as written: rephrase it.",
        _P.UNKNOWN_OUTCOME: (
            "WhatsApp never answered, so the customer may or may not have it; the bridge will "
            "not resend it by itself. Check with the customer, or send it again."
        ),
        _P.EARLIER_PART_FAILED: "An earlier part of this reply was not sent, so this part "
        "was held back; it goes out with that part if you send it again.",
        _P.FILE_NOT_FETCHED: (
            "Slack would not hand the file over, so WhatsApp never got it: share it again "
            "in the thread."
        ),
        _P.NUMBER_NOT_SERVED: (
            "This conversation's business number was removed from the bridge, so nothing can "
            "be sent from it: an admin can add it back with `wabridge numbers add`."
        ),
        # Codes Meta lists without a meaning an agent can act on: the error above says more.
        _P.OTHER: "WhatsApp refused this message for a reason of its own (the error above): "
        "ask an admin if it keeps happening.",
    }
)
_DEFAULT: Final = "WhatsApp refused the message; see the error details or ask an admin."


def advice(problem: DeliveryProblem | None) -> str:
    """One sentence telling a busy support agent what to do."""
    return _ADVICE.get(problem, _DEFAULT) if problem is not None else _DEFAULT
