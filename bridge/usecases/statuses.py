"""Meta reports a delivery status: move the message forward and show it on the agent's post."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from bridge.domain import (
    DeliveryProblem,
    FailureKind,
    MessageStatus,
    Notice,
    NoticeKind,
    StatusUpdate,
    advance_status,
    is_delivery_stage,
    least_advanced,
    next_step_after,
    reached_stages,
)
from bridge.jobs import JobContext, JobHandler, ShowDelivery
from bridge.ports import ChatSurface, MessageRecord, UnitOfWork, UnitOfWorkFactory
from bridge.usecases.counts import REPLIES_WINDOW_CLOSED
from bridge.usecases.notices import queue_notice
from bridge.usecases.records import finish, load_message, resend_of

__all__ = [
    "UNKNOWN_STATUSES",
    "UNKNOWN_STATUS_GRACE",
    "ShowDeliveryHandler",
    "StatusOutcome",
    "apply_statuses",
    "queue_delivery_display",
    "queue_delivery_displays",
    "report_failed_delivery",
    "status_may_be_early",
]

log = logging.getLogger(__name__)

#: A status for a wamid we do not know yet may be racing our own commit of that wamid.
UNKNOWN_STATUS_GRACE = timedelta(minutes=2)
#: The counter of statuses for messages this bridge never sent (``/metrics``).
UNKNOWN_STATUSES: Final = "statuses_unknown"


class StatusOutcome(enum.StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    UNKNOWN_MESSAGE = "unknown_message"


def status_may_be_early(event: StatusUpdate, *, now: datetime) -> bool:
    """Whether an unknown wamid's status is recent enough to be racing our own send."""
    return now - event.timestamp < UNKNOWN_STATUS_GRACE


def _reach(message: MessageRecord, stage: MessageStatus, at: datetime) -> MessageRecord:
    """``message`` with ``stage`` reached at ``at`` (unless it has an earlier time) and the
    stages it implies reached at ``at`` where they have no time: a ``read`` proves the message
    was delivered by then, and a late ``delivered`` replaces that guess with its own time."""
    reached = reached_stages(stage)

    def when(of: MessageStatus, current: datetime | None) -> datetime | None:
        if of not in reached:
            return current
        if current is None or (of == stage and current > at):
            return at
        return current

    return replace(
        message,
        sent_at=when(MessageStatus.SENT, message.sent_at),
        delivered_at=when(MessageStatus.DELIVERED, message.delivered_at),
        read_at=when(MessageStatus.READ, message.read_at),
        played_at=when(MessageStatus.PLAYED, message.played_at),
    )


def _priced(message: MessageRecord, event: StatusUpdate) -> MessageRecord:
    """``message`` with the pricing ``event`` carries (what it leaves out stays)."""
    return replace(
        message,
        pricing_category=event.pricing_category or message.pricing_category,
        billable=message.billable if event.billable is None else event.billable,
        pricing_model=event.pricing_model or message.pricing_model,
    )


async def apply_statuses(
    uow: UnitOfWork,
    events: Sequence[StatusUpdate],
    messages: Mapping[str, MessageRecord],
    *,
    now: datetime,
) -> list[StatusOutcome]:
    """Move sent messages' statuses forward, never back, and queue their Slack displays; the
    outcome of each event, in order.

    ``messages`` are the messages of these wamids, locked by the caller
    (``lock_many_by_wamid``): each event is applied to what the ones before it left, and
    each message changed is written once and its display queued once, however many of its
    statuses the batch holds (sent, delivered and read often come together under a backlog).
    Statuses come in any order: a late one changes no status, but its time still fills in
    the stage it reports. Meta's pricing of the message is kept whenever a status carries it.
    """
    current = dict(messages)
    changed: dict[int, MessageRecord] = {}
    shown: dict[int, MessageRecord] = {}
    outcomes: list[StatusOutcome] = []
    for event in events:
        message = current.get(event.wamid)
        if message is None:
            outcomes.append(StatusOutcome.UNKNOWN_MESSAGE)
            continue
        outcome, after = await _apply(uow, event, message, now=now)
        outcomes.append(outcome)
        current[event.wamid] = after
        if after is not message:
            changed[after.id] = after
        if outcome == StatusOutcome.APPLIED and after.status != MessageStatus.FAILED:
            shown[after.id] = after
    await uow.messages.record_deliveries(list(changed.values()))
    await queue_delivery_displays(uow, list(shown.values()), now=now)
    return outcomes


async def _apply(
    uow: UnitOfWork,
    event: StatusUpdate,
    message: MessageRecord,
    *,
    now: datetime,
) -> tuple[StatusOutcome, MessageRecord]:
    """``event`` applied to ``message``: the outcome, and the message as it leaves it (written
    by the caller, but for a failure, written here with its notice)."""
    ids = {"conversation_id": message.conversation_id, "message_id": message.id}
    if event.has_pricing:
        message = _priced(message, event)
    if event.status is None:
        log.info("status not known to this version", extra={**ids, "status": event.raw_status})
        return StatusOutcome.UNCHANGED, message
    new = advance_status(message.status, event.status)
    if new is None:
        if is_delivery_stage(event.status) and is_delivery_stage(message.status):
            message = _reach(message, event.status, event.timestamp)
        log.info(
            "late status kept, status unchanged",
            extra={**ids, "status": event.status.value, "current": message.status.value},
        )
        return StatusOutcome.UNCHANGED, message
    if new == MessageStatus.FAILED:
        # What the batch changed before is written first: the failure is written on its own.
        await uow.messages.record_deliveries([message])
        await report_failed_delivery(
            uow,
            message,
            at=event.timestamp,
            code=event.error_code,
            title=event.error_title,
            details=event.error_details,
            problem=event.problem,
            now=now,
        )
        message = replace(
            message,
            status=MessageStatus.FAILED,
            failed_at=event.timestamp,
            error_code=event.error_code,
            error_title=event.error_title,
            error_message=event.error_details,
        )
    else:
        message = _reach(replace(message, status=new), new, event.timestamp)
    log.info("status applied", extra={**ids, "wamid": event.wamid, "status": new.value})
    return StatusOutcome.APPLIED, message


async def queue_delivery_displays(
    uow: UnitOfWork, messages: Sequence[MessageRecord], *, now: datetime
) -> None:
    """``queue_delivery_display`` for several messages at once."""
    await uow.jobs.enqueue_collapsed_many(
        [(_display(m), _display_key(m)) for m in messages], now=now
    )


def _display(message: MessageRecord) -> ShowDelivery:
    return ShowDelivery(conversation_id=message.conversation_id, message_id=message.id)


def _display_key(message: MessageRecord) -> str:
    return f"{ShowDelivery.TYPE}:{message.id}"


async def queue_delivery_display(uow: UnitOfWork, message: MessageRecord, *, now: datetime) -> bool:
    """Queue the display of where ``message`` stands, unless one waits already: the display
    reads the status when it runs, so sent, delivered and read under a backlog cost one
    Slack update. True if a display was queued."""
    return await uow.jobs.enqueue_collapsed(_display(message), key=_display_key(message), now=now)


async def report_failed_delivery(
    uow: UnitOfWork,
    message: MessageRecord,
    *,
    at: datetime,
    code: int | None,
    title: str | None,
    details: str | None,
    problem: DeliveryProblem | None,
    now: datetime,
    kind: FailureKind | None = None,
    job_ref: str | None = None,
    recorded_title: str | None = None,
    recorded_details: str | None = None,
) -> None:
    """An agent's message did not reach the customer: mark it failed, show the failure on its
    post and explain it in the thread with Meta's code, title and advice. The same whether
    Meta refused it at once or reported the failure later by a status, and so is the next
    step the notice offers (``next_step_after``: decided by the problem, which both carry).

    ``recorded_title`` and ``recorded_details`` are kept on the message when the agent is
    told less (an internal reason, where Meta gave no title).
    """
    await uow.messages.mark_failed(
        message.id,
        at=at,
        code=code,
        title=recorded_title or title,
        details=recorded_details or details,
    )
    if problem == DeliveryProblem.WINDOW_CLOSED:
        await uow.counters.add(REPLIES_WINDOW_CLOSED)
    if message.message_type == "reaction":  # no post of its own to mark: a line says so
        notice = Notice(
            kind=NoticeKind.REACTION_NOT_SENT, error_code=code, error_title=title, problem=problem
        )
        await queue_notice(uow, message.conversation_id, notice, now=now)
        return
    await queue_delivery_display(uow, message, now=now)
    notice = Notice(
        kind=NoticeKind.DELIVERY_FAILED,
        error_code=code,
        error_title=title,
        error_details=details,
        problem=problem,
        reply_ts=message.slack_ts,
        job_ref=job_ref,
        next_step=next_step_after(problem, kind),
        message_id=message.id,
    )
    await queue_notice(uow, message.conversation_id, notice, now=now)


class ShowDeliveryHandler(JobHandler[ShowDelivery]):
    """Reactions on the agent's message, one per stage reached. The status is read when the
    job runs, so a backlog of changes for one message costs one display."""

    def __init__(self, *, uow: UnitOfWorkFactory, chat: ChatSurface) -> None:
        self._uow = uow
        self._chat = chat

    async def run(self, job: ShowDelivery, ctx: JobContext) -> None:
        message, conversation, parts = await load_message(
            self._uow, conversation_id=job.conversation_id, message_id=job.message_id
        )
        if message.slack_ts is None:  # not an agent's Slack message: nothing to show it on
            await finish(self._uow, ctx)
            return
        # A reply sent in parts shows what every part has reached.
        status = least_advanced([p.status for p in parts])
        stages = reached_stages(status)
        shown = tuple(dict.fromkeys((*message.shown_stages, *(s.value for s in stages))))
        # An agent's new send of a failed message shows on the same post: once it gets
        # somewhere, the old failure's mark goes.
        withdrawn = (
            (MessageStatus.FAILED,)
            if resend_of(message) is not None
            and stages
            and MessageStatus.FAILED not in stages
            and not message.shown_stages
            else ()
        )
        if shown != message.shown_stages or withdrawn:
            # Only what is not on the post yet: each stage is a call of Slack's Tier 3.
            await self._chat.show_delivery(
                channel=conversation.slack_channel,
                ts=message.slack_ts,
                stages=[s for s in stages if s.value not in message.shown_stages],
                withdrawn=withdrawn,
            )
        async with self._uow() as uow:
            await uow.messages.record_shown_stages(message.id, shown)
            await ctx.finish(uow)
            await uow.commit()
