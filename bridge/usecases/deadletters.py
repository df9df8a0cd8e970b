"""Dead letters: webhooks that could not be processed and jobs that ended ``failed``, for an
operator to inspect and replay (``wabridge deadletters``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bridge.ports import Clock, DeadWebhook, FailedJob, UnitOfWorkFactory

__all__ = ["DeadLetter", "DeadLetters", "parse_ref"]

_REF: Final = re.compile(r"^(job|webhook):(\d+)$")


def parse_ref(ref: str) -> tuple[str, int]:
    """``job:12`` or ``webhook:7`` -> (kind, id); ``ValueError`` with the expected form."""
    match = _REF.match(ref.strip())
    if match is None:
        raise ValueError(f"{ref!r} is not a dead letter; give job:<id> or webhook:<id>")
    return match.group(1), int(match.group(2))


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    ref: str
    kind: str  # a job type, or "webhook"
    at: datetime
    conversation_id: int | None
    reason: str
    error: str
    attempts: int
    #: The job's payload, or the webhook's JSON body.
    content: Any


def _from_job(job: FailedJob) -> DeadLetter:
    return DeadLetter(
        ref=f"job:{job.id}",
        kind=job.job_type,
        at=job.failed_at or job.queued_at,
        conversation_id=job.conversation_id,
        reason=job.reason,
        error=job.error,
        attempts=job.attempts,
        content=job.payload,
    )


def _from_webhook(webhook: DeadWebhook) -> DeadLetter:
    return DeadLetter(
        ref=f"webhook:{webhook.id}",
        kind="webhook",
        at=webhook.received_at,
        conversation_id=None,
        reason=webhook.reason,
        error=webhook.error,
        attempts=webhook.attempts,
        content=webhook.body.decode("utf-8", errors="replace"),
    )


class DeadLetters:
    """Lists, shows and replays what failed."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def list(self, *, limit: int = 100) -> list[DeadLetter]:
        """The newest failed jobs and dead webhooks, newest first."""
        async with self._uow() as uow:
            jobs = await uow.jobs.failed(limit=limit)
            webhooks = await uow.inbox.failed(limit=limit)
        letters = [_from_job(j) for j in jobs] + [_from_webhook(w) for w in webhooks]
        return sorted(letters, key=lambda letter: letter.at, reverse=True)[:limit]

    async def show(self, ref: str) -> DeadLetter | None:
        """One dead letter, whole; None if no dead letter has that reference."""
        kind, number = parse_ref(ref)
        async with self._uow() as uow:
            if kind == "job":
                job = await uow.jobs.get_failed(number)
                return None if job is None else _from_job(job)
            webhook = await uow.inbox.get_failed(number)
            return None if webhook is None else _from_webhook(webhook)

    async def replay(self, ref: str) -> bool:
        """Queue a dead letter again; False if no dead letter has that reference."""
        kind, number = parse_ref(ref)
        now = self._clock.now()
        async with self._uow() as uow:
            if kind == "job":
                replayed = await uow.jobs.replay(number, now=now)
            else:
                replayed = await uow.inbox.replay(number, now=now)
            await uow.commit()
        return replayed
