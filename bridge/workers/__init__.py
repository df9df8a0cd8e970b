"""The workers: the inbox loop (webhooks in) and the job loop (work out), and what they share."""

from bridge.workers.inbox import InboxWorker
from bridge.workers.jobs import DEFAULT_LEASE, JobWorker
from bridge.workers.loop import Rush, Wakeable, backoff_delay, run_loop

__all__ = [
    "DEFAULT_LEASE",
    "InboxWorker",
    "JobWorker",
    "Rush",
    "Wakeable",
    "backoff_delay",
    "run_loop",
]
