"""Notices: what the bridge says in a thread when something needs an agent's attention."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bridge.domain import DeliveryProblem, NextStep, Notice, NoticeKind
from bridge.errors import SLACK_REASON
from slack_app.messages.conversations import escape
from slack_app.messages.problems import advice
from slack_app.messages.resends import resend_button
from slack_app.messages.templates import send_template_button

__all__ = ["notice_actions", "notice_text", "offers_templates"]


def offers_templates(notice: Notice) -> bool:
    """Whether the notice carries the "Send template" button."""
    return (
        notice.kind in (NoticeKind.WINDOW_CLOSED, NoticeKind.WINDOW_WARNING)
        or notice.next_step == NextStep.SEND_TEMPLATE
    )


def notice_actions(
    notice: Notice, *, conversation_id: int, templates_here: bool
) -> dict[str, Any] | None:
    """The button under a notice, if it offers a next step: "Send template" (where agents
    can send templates from Slack), "Retry" or "Send again"."""
    if offers_templates(notice):
        return send_template_button(conversation_id) if templates_here else None
    if notice.next_step in (NextStep.RETRY, NextStep.SEND_AGAIN) and notice.message_id is not None:
        return resend_button(notice.next_step, notice.message_id)
    return None


def _ago(expired: datetime | None, now: datetime) -> str:
    if expired is None:
        return "The customer has not written yet, so"
    minutes = int((now - expired).total_seconds() // 60)
    if minutes < 60:
        span = f"{max(minutes, 1)} min"
    elif minutes < 48 * 60:
        span = f"{minutes // 60} h"
    else:
        span = f"{minutes // 1440} days"
    return f"The 24-hour window closed {span} ago, so"


def _failure(notice: Notice) -> str:
    if notice.problem == DeliveryProblem.UNKNOWN_OUTCOME:
        twice = (
            " Sending it again may deliver it twice."
            if notice.next_step == NextStep.SEND_AGAIN
            else ""
        )
        return f":warning: *Maybe not sent.* {advice(notice.problem)}{twice}"
    if notice.error_code is not None:
        what = f"error {notice.error_code}"
        what += f": {escape(notice.error_title)}" if notice.error_title else ""
    else:
        what = escape(notice.error_title) if notice.error_title else "an error"
    return f":x: *Not delivered* ({what}). {advice(notice.problem)}"


def _warning(notice: Notice, now: datetime) -> str:
    when = "soon"
    if notice.window_expires_at is not None:
        minutes = max(int((notice.window_expires_at - now).total_seconds() // 60), 0)
        span = f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"
        if minutes >= 60 and minutes % 60:
            span += f" {minutes % 60} min"
        span = span if minutes else "less than a minute"
        when = f"in {span} ({notice.window_expires_at:%H:%M} UTC)"
    return (
        f":hourglass_flowing_sand: The 24-hour window closes {when}. After that only "
        "approved templates can be sent." + _suggested(notice)
    )


def _delayed(notice: Notice) -> str:
    """Why a reply has not gone out yet (it is being retried)."""
    code = f" (error {notice.error_code})" if notice.error_code is not None else ""
    if notice.problem in (DeliveryProblem.THROTTLED, DeliveryProblem.RECIPIENT_THROTTLED):
        return f"WhatsApp asked us to slow down{code}."
    if notice.problem == DeliveryProblem.FILE_NOT_FETCHED:
        return "Slack has not handed your file over yet."
    title = f": {escape(notice.error_title)}" if notice.error_title else ""
    return f"WhatsApp had a temporary problem{code}{title}."


def _not_relayed(notice: Notice) -> str:
    """Why a customer's file is not in the thread, and what the agent can do (not the advice
    for a message of ours that WhatsApp refused: the file is the customer's)."""
    reason = notice.error_details or ""
    if notice.problem == DeliveryProblem.MEDIA_TOO_LARGE:
        return "it is too large to bring over. Ask the customer to send a smaller one."
    if reason.startswith(SLACK_REASON):
        error = escape(reason.removeprefix(SLACK_REASON))
        return f"Slack refused the upload (`{error}`)."
    if notice.problem == DeliveryProblem.MEDIA_GONE:
        return (
            "WhatsApp no longer has it (it keeps customers' files for a limited time). Ask "
            "the customer to send it again."
        )
    said = notice.error_title or reason or "no reason given"
    code = f"error {notice.error_code}: " if notice.error_code is not None else ""
    return (
        f"WhatsApp would not hand it over ({code}{escape(said)}). Ask the customer to send "
        "it again if it matters."
    )


def _suggested(notice: Notice) -> str:
    """The templates a notice suggests, as a sentence ("" if none)."""
    names = ", ".join(
        f"`{escape(name)}` ({escape(language)})"
        for name, _, language in (s.partition(":") for s in notice.suggestions)
    )
    return f" Suggested: {names}." if names else ""


def notice_text(notice: Notice, *, now: datetime, templates_here: bool = True) -> str:
    """The words of a notice, at ``now``; ``templates_here`` when agents can send templates
    from Slack (the notice then carries the button)."""
    kind = notice.kind
    if kind == NoticeKind.WINDOW_CLOSED:
        how = (
            ": send one with the button below, or `/wa template`."
            if templates_here
            else ". Ask an admin to set up templates (`META_WABA_ID`)."
        )
        return (
            f":lock: *Not sent.* {_ago(notice.window_expires_at, now)} WhatsApp only accepts "
            f"an approved template until the customer writes again{how}{_suggested(notice)}"
        )
    if kind == NoticeKind.DELIVERY_FAILED:
        return _failure(notice)
    if kind == NoticeKind.SEND_DELAYED:
        return (
            f":hourglass_flowing_sand: {_delayed(notice)} "
            "Your reply is queued and will be retried automatically; nothing to do."
        )
    if kind == NoticeKind.REPLY_SPLIT:
        return (
            f":scissors: Your reply is longer than WhatsApp's 4,096 characters, so it goes "
            f"out in {notice.parts} parts, in order."
        )
    if kind == NoticeKind.REPLY_EMPTY:
        return (
            ":grey_question: *Not sent.* Without Slack's formatting your reply is empty "
            "(@here, @channel and the like are not sent to customers). Write some text."
        )
    if kind == NoticeKind.WINDOW_WARNING:
        return _warning(notice, now)
    if kind == NoticeKind.EDIT_NOT_DELIVERED:
        return (
            ":pencil2: Your edit was *not* sent: WhatsApp cannot change a message the customer "
            "already has. Send the correction as a new reply."
        )
    if kind == NoticeKind.DELETE_NOT_DELIVERED:
        return (
            ":wastebasket: Deleted here only: WhatsApp cannot delete a message the customer "
            "already has. Send a new reply if it needs correcting."
        )
    if kind == NoticeKind.EDIT_APPLIED:
        return ":pencil2: Edited in time: the customer gets the new text."
    if kind == NoticeKind.REPLY_CANCELLED:
        return ":wastebasket: Deleted in time: the reply will not be sent."
    if kind == NoticeKind.FILE_NOT_RELAYED:
        replay = (
            f" An admin can try again with `wabridge deadletters replay {notice.job_ref}`."
            if notice.job_ref
            else ""
        )
        return (
            f":warning: The customer's file could not be brought here: {_not_relayed(notice)}"
            f"{replay}"
        )
    if kind == NoticeKind.FILE_NOT_SENT:
        return f":paperclip: *File not sent.* {escape(notice.error_details or '')}".rstrip()
    if kind == NoticeKind.REACTION_NOT_SENT:
        if notice.problem is None and notice.error_details:  # refused here, never sent
            return f":x: Your reaction was not sent: {escape(notice.error_details)}."
        why = f" (error {notice.error_code})" if notice.error_code is not None else ""
        return f":x: Your reaction did not reach the customer{why}. {advice(notice.problem)}"
    if kind == NoticeKind.CUSTOMER_MESSAGE_MISSING:
        reason = f" ({escape(notice.error_details)})" if notice.error_details else ""
        replay = (
            f" An admin can bring it back with `wabridge deadletters replay {notice.job_ref}`."
            if notice.job_ref
            else ""
        )
        return f":warning: A message from the customer could not be shown here{reason}.{replay}"
    return f":information_source: {escape(str(kind))}"
