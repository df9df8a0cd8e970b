"""The buttons that send a failed message anew, and the line that replaces them once used."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.domain import NextStep
from bridge.usecases.resends import ResendOutcome, ResendResult
from slack_app.ids import RETRY_SEND, SEND_AGAIN

__all__ = ["RESEND_ACTIONS", "after_resend", "resend_button", "resend_line"]

#: The action ids of the buttons this module draws.
RESEND_ACTIONS = frozenset({RETRY_SEND, SEND_AGAIN})


def resend_button(step: NextStep, message_id: int) -> dict[str, Any]:
    """An actions block with "Retry" or, when the first try may have arrived, "Send again"
    behind a confirmation. The value is the failed message's id: a click needs nothing else."""
    if step == NextStep.RETRY:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": RETRY_SEND,
            "text": {"type": "plain_text", "text": "Retry", "emoji": True},
            "style": "primary",
            "value": str(message_id),
        }
    else:
        button = {
            "type": "button",
            "action_id": SEND_AGAIN,
            "text": {"type": "plain_text", "text": "Send again (may arrive twice)", "emoji": True},
            "value": str(message_id),
            "confirm": {
                "title": {"type": "plain_text", "text": "Send it again?"},
                "text": {
                    "type": "mrkdwn",
                    "text": "The customer may already have this message and get it twice.",
                },
                "confirm": {"type": "plain_text", "text": "Send again"},
                "deny": {"type": "plain_text", "text": "Cancel"},
            },
        }
    return {"type": "actions", "elements": [button]}


def resend_line(result: ResendResult, *, user: str) -> str:
    """What the notice says in place of its button, once someone clicked it."""
    outcome = result.outcome
    if outcome == ResendOutcome.QUEUED:
        return f":repeat: Sent again by <@{user}>. Its delivery shows on the original message."
    if outcome == ResendOutcome.ALREADY:
        return (
            f":repeat: Already sent again by <@{result.by}>."
            if result.by
            else (":repeat: Already sent again.")
        )
    if outcome == ResendOutcome.WINDOW_CLOSED:
        return ":lock: Not sent again: the 24-hour window is closed. Send a template instead."
    return ":information_source: Nothing to send again: this message is no longer failed."


def after_resend(blocks: Sequence[dict[str, Any]] | None, text: str, line: str) -> list[Any]:
    """The notice's blocks with its resend button replaced by ``line``, so nobody clicks
    it twice; ``text`` stands in when the click did not carry the blocks."""
    kept = [
        block
        for block in blocks or [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        if not (
            block.get("type") == "actions"
            and any(e.get("action_id") in RESEND_ACTIONS for e in block.get("elements") or [])
        )
    ]
    return [*kept, {"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}]
