"""Meta reports news about the business account or a number: tell the operators in the
number's channel (once, whatever Meta's redeliveries), or log news that needs nobody."""

from __future__ import annotations

import logging
from datetime import datetime

from bridge.domain import AccountEvent
from bridge.jobs import JobContext, JobHandler, PostOperatorNotice
from bridge.ports import ChatSurface, UnitOfWork
from bridge.usecases.threads import recheck_since

__all__ = ["PostOperatorNoticeHandler", "receive_account_event"]

log = logging.getLogger(__name__)


def _digits(number: str | None) -> str:
    return "".join(c for c in number or "" if c.isdigit())


async def channel_of_number(uow: UnitOfWork, number: str | None) -> str | None:
    """The channel of the business number Meta displays as ``number``, if we know it."""
    wanted = _digits(number)
    if not wanted:
        return None
    for _, display, channel in await uow.conversations.business_numbers():
        if _digits(display) == wanted:
            return channel
    return None


async def receive_account_event(
    uow: UnitOfWork, event: AccountEvent, *, now: datetime, default_channel: str
) -> bool:
    """Queue the operators' notice of ``event`` in the caller's transaction: in its number's
    channel, else ``default_channel``. False when nothing was queued: news that needs nobody
    (logged), or an event delivered before."""
    notice = event.notice
    ids = {"event": event.name, "waba_id": notice.waba_id, "number": notice.number}
    if not notice.shown:
        log.info("account event needs nobody; not shown", extra=ids)
        return False
    channel = await channel_of_number(uow, notice.number) or default_channel
    job = PostOperatorNotice(channel=channel, notice=notice)
    queued = await uow.jobs.enqueue_keyed(job, key=event.event_id, now=now)
    if not queued:
        log.info("account event delivered again; told once already", extra=ids)
        return False
    log.warning(
        "account event: operators are told",
        extra={**ids, "kind": notice.kind.value, "channel": channel},
    )
    return True


class PostOperatorNoticeHandler(JobHandler[PostOperatorNotice]):
    """Posts the notice as a message of its own in the channel; a retry finds the post a
    crash hid from us (by the job's key) instead of posting twice."""

    def __init__(self, *, chat: ChatSurface) -> None:
        self._chat = chat

    async def run(self, job: PostOperatorNotice, ctx: JobContext) -> None:
        ts = await self._chat.post_operator_notice(
            channel=job.channel,
            notice=job.notice,
            key=ctx.uid,
            recheck_since=recheck_since(ctx.queued_at, retried=ctx.attempt > 1),
        )
        log.info(
            "operator notice posted",
            extra={"notice": job.notice.kind.value, "channel": job.channel, "slack_ts": ts},
        )
