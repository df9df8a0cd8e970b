"""How a job's failure is classified, and how long its retry waits."""

from __future__ import annotations

import logging
from datetime import datetime

from bridge.domain import FailureKind
from bridge.errors import DeliveryError, ExternalError, JobNotReadyError, UnworkableJobError
from bridge.jobs import JobFailure
from bridge.workers.loop import backoff_delay

__all__ = ["failure_of", "retry_delay"]

log = logging.getLogger(__name__)


def failure_of(error: BaseException, *, job_id: int, now: datetime) -> JobFailure:
    if isinstance(error, DeliveryError):
        return JobFailure(
            job_id=job_id,
            at=now,
            kind=error.kind,
            reason=error.reason,
            error=str(error),
            code=error.code,
            title=error.title,
            details=error.details or None,
            problem=error.problem,
        )
    if isinstance(error, ExternalError):
        return JobFailure(
            job_id=job_id, at=now, kind=error.kind, reason=error.reason, error=str(error)
        )
    if isinstance(error, UnworkableJobError):
        return JobFailure(
            job_id=job_id,
            at=now,
            kind=FailureKind.PERMANENT,
            reason=error.reason,
            error=str(error),
        )
    if isinstance(error, JobNotReadyError):
        return JobFailure(
            job_id=job_id,
            at=now,
            kind=FailureKind.TRANSIENT,
            reason=error.reason,
            error=str(error),
        )
    log.error("job raised unexpectedly", exc_info=error)
    return JobFailure(
        job_id=job_id,
        at=now,
        kind=FailureKind.TRANSIENT,
        reason=f"unexpected:{type(error).__name__}",
        error=repr(error),
    )


def retry_delay(error: BaseException, attempt: int) -> float:
    if isinstance(error, ExternalError):
        if error.retry_after is not None:
            return max(0.0, error.retry_after)
        return backoff_delay(attempt, factor=error.backoff_base or 2.0)
    return backoff_delay(attempt)
