"""Storage, as the core needs it: one repository per aggregate, in one unit of work.

Repository methods are named for what they mean (``mark_sent``, ``finish``), never a
generic ``update(**fields)``. Every method that records a job's outcome takes the claim's
lease token and answers False, changing nothing, when the lease is no longer held.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from bridge.domain import MessageTemplate, TemplateUpdate
from bridge.jobs import Job, Lane
from bridge.ports.records import (
    BusinessNumber,
    ClaimedJob,
    ContactTally,
    ConversationKey,
    ConversationRecord,
    DeadWebhook,
    DueMark,
    FailedJob,
    FailureCount,
    InboxRow,
    JobCounts,
    LanePause,
    LaneQueue,
    MessageRecord,
    MessageStats,
    NewMessage,
    NewWebhook,
    OpenConversation,
    QueuedJob,
    RateHold,
)

__all__ = [
    "ConversationRepository",
    "CounterRepository",
    "HoldRepository",
    "InboxRepository",
    "JobRepository",
    "MessageRepository",
    "NumberRepository",
    "PauseRepository",
    "RetentionRepository",
    "ScheduleRepository",
    "SlackEventRepository",
    "TemplateRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
]


class ConversationRepository(Protocol):
    async def get_or_create(
        self,
        *,
        phone_number_id: str,
        display_phone_number: str,
        contact_id: str,
        contact_name: str | None,
        slack_channel: str,
        now: datetime,
    ) -> ConversationRecord: ...

    async def open_conversations(
        self,
        *,
        phone_number_id: str,
        contacts: Mapping[str, str | None],
        update_job_type: str,
        now: datetime,
    ) -> dict[str, OpenConversation]:
        """The open conversations of ``contacts`` (contact id -> name Meta gave) with this
        number, by contact id, where the stored name is current: nothing to create or change;
        each says whether a job of ``update_job_type`` waits for it, queued and not claimed.
        A contact missing from the answer goes through ``get_or_create``."""
        ...

    async def get(self, conversation_id: int) -> ConversationRecord | None: ...

    async def by_thread(self, *, channel: str, thread_ts: str) -> ConversationRecord | None: ...

    async def replying_in(
        self, *, channel: str, thread_ts: str
    ) -> tuple[ConversationRecord, str | None] | None:
        """``by_thread``, with the wamid of the customer's latest message (the one a reply
        marks read; None before any), in the same read."""
        ...

    async def set_thread(self, conversation_id: int, thread_ts: str) -> None: ...

    async def record_message(
        self,
        conversation_id: int,
        *,
        at: datetime,
        from_contact: bool,
        window_expires_at: datetime | None,
    ) -> None: ...

    async def record_contact_messages(self, tallies: Mapping[int, ContactTally]) -> None:
        """Count new customer messages of several conversations (by id) at once; times and
        windows only move forward."""
        ...

    async def list_recent(
        self, *, limit: int, offset: int = 0, after: ConversationKey | None = None
    ) -> list[ConversationRecord]:
        """Newest first by (last message, id), conversations without messages last; ``after``
        resumes behind that conversation's place."""
        ...

    async def display_number(self, phone_number_id: str) -> str | None: ...

    async def business_numbers(self) -> list[tuple[str, str, str]]:
        """(phone number id, phone number, channel) of every business number stored."""
        ...

    async def window_counts(self, *, now: datetime, within: timedelta) -> tuple[int, int]:
        """How many windows are open at ``now``, and how many of them close ``within``."""
        ...


class MessageRepository(Protocol):
    async def add(self, message: NewMessage) -> MessageRecord | None:
        """Insert; None when a message with that wamid or idempotency key exists."""
        ...

    async def add_inbound(self, messages: Sequence[NewMessage]) -> dict[str, int]:
        """Insert customer messages in one statement: the ids of those stored, by wamid;
        a wamid stored before (Meta delivered it again) is left out."""
        ...

    async def get(self, message_id: int) -> MessageRecord | None: ...

    async def with_conversation(
        self, message_id: int, conversation_id: int
    ) -> tuple[MessageRecord, ConversationRecord] | None:
        """The message and its conversation, read at once; None if either is gone."""
        ...

    async def by_wamid(self, wamid: str) -> MessageRecord | None: ...

    async def lock_by_wamid(self, wamid: str) -> MessageRecord | None:
        """The message with that wamid, locked until the transaction ends, so that statuses
        of one message are applied one after the other whatever the number of workers."""
        ...

    async def lock_many_by_wamid(self, wamids: Collection[str]) -> dict[str, MessageRecord]:
        """The messages with these wamids, by wamid, locked until the transaction ends (in
        id order); a wamid of no message is left out."""
        ...

    async def inbound_by_slack_ts(
        self, conversation_id: int, slack_ts: str
    ) -> MessageRecord | None:
        """The customer message shown as the post ``slack_ts`` in this conversation."""
        ...

    async def inbound_at_post(self, *, channel: str, slack_ts: str) -> MessageRecord | None:
        """The customer message shown as the post ``slack_ts`` of ``channel``."""
        ...

    async def recent_inbound(self, conversation_id: int, *, limit: int) -> list[MessageRecord]:
        """The customer's latest messages, newest first."""
        ...

    async def for_conversation(
        self, conversation_id: int, *, after_id: int | None = None, limit: int | None = None
    ) -> list[MessageRecord]:
        """Oldest first (by id); ``after_id`` resumes behind that message."""
        ...

    async def stats(self, conversation_id: int) -> MessageStats:
        """Counts and times over a conversation's messages."""
        ...

    async def parts_of_reply(self, conversation_id: int, slack_ts: str) -> list[MessageRecord]:
        """The outbound messages one Slack message became (several for a long reply)."""
        ...

    async def set_slack_ts(self, message_id: int, slack_ts: str) -> None: ...

    async def mark_sent(self, message_id: int, *, wamid: str, at: datetime) -> None: ...

    async def mark_failed(
        self,
        message_id: int,
        *,
        at: datetime,
        code: int | None,
        title: str | None,
        details: str | None,
    ) -> None: ...

    async def record_deliveries(self, messages: Sequence[MessageRecord]) -> None:
        """Write where each of these messages stands: its status, the times of its delivery
        stages and its pricing, as the record has them (the caller holds their locks)."""
        ...

    async def record_shown_stages(self, message_id: int, stages: tuple[str, ...]) -> None: ...

    async def count_refused_since(self, since: datetime, *, reason: str) -> int:
        """Agents' messages refused before any call, for ``reason``, since ``since``."""
        ...

    async def by_idempotency_key(self, key: str) -> MessageRecord | None: ...

    async def begin_send(self, message_id: int, *, at: datetime) -> MessageRecord | None:
        """The message as it will be sent, frozen from now on (a later edit or delete by the
        agent comes too late); None if it is no longer queued."""
        ...

    async def replace_queued_text(self, message_id: int, text: str) -> bool:
        """Change the text of a reply not sent yet; False if it went out (or failed) already."""
        ...

    async def cancel_queued(self, message_id: int, *, at: datetime) -> bool:
        """Mark a reply not sent yet as deleted, so it never goes out; False if too late."""
        ...

    async def set_customer_reaction(self, message_id: int, emoji: str | None) -> None: ...

    async def record_customer_edit(self, message_id: int, *, text: str | None) -> None: ...

    async def mark_revoked(self, message_id: int) -> None: ...

    async def record_media_id(self, message_id: int, media_id: str) -> None: ...

    async def set_agent_reaction(
        self, message_id: int, emoji: str | None, *, at: datetime | None = None
    ) -> None:
        """The business's emoji on a customer message (None: taken back); ``at``: when the
        agent's latest reaction event on it happened, so that late events change nothing."""
        ...

    async def record_relay(self, message_id: int, *, file_id: str, shared: bool) -> None:
        """Where a customer's file stands on its way into the thread."""
        ...

    async def template_usage(self, *, recent: int) -> dict[str, int]:
        """How often each template was sent, over the ``recent`` latest template messages."""
        ...


class InboxRepository(Protocol):
    async def store(
        self, body: bytes, *, received_at: datetime, dead_reason: str | None
    ) -> int: ...

    async def store_many(self, webhooks: Sequence[NewWebhook]) -> list[int]:
        """Store several bodies in one statement: their ids, in the order given."""
        ...

    async def claim(self, *, now: datetime, limit: int) -> list[InboxRow]: ...

    async def reclaim(self, row_id: int) -> InboxRow | None:
        """Claim one row again, in this transaction; None when it is no longer pending or
        another worker holds it."""
        ...

    async def done_many(self, row_ids: Collection[int], *, now: datetime) -> None: ...

    async def retry(self, row_ids: Collection[int], *, error: str, not_before: datetime) -> None:
        """Read these rows again from ``not_before``, each one attempt further."""

    async def fail(self, row_id: int, *, reason: str, error: str, now: datetime) -> None: ...

    async def depth(self) -> int: ...

    async def oldest_pending_received_at(self) -> datetime | None:
        """When the oldest webhook still waiting to be processed arrived (the inbox's lag)."""
        ...

    async def last_received_at(self) -> datetime | None: ...

    async def failure_counts(self) -> list[FailureCount]: ...

    async def failed(self, *, limit: int) -> list[DeadWebhook]: ...

    async def get_failed(self, row_id: int) -> DeadWebhook | None: ...

    async def replay_failed(self, *, reason: str, now: datetime) -> int:
        """Queue again every dead webhook set aside for ``reason``; how many."""
        ...

    async def replay(self, row_id: int, *, now: datetime) -> bool:
        """Queue a failed webhook again; False if there is no failed webhook with that id."""
        ...


class JobRepository(Protocol):
    async def enqueue(
        self,
        job: Job,
        *,
        now: datetime,
        seq: datetime | None = None,
        arrival: int = 0,
        not_before: datetime | None = None,
    ) -> int:
        """Queue a job. ``seq`` is when its cause happened (default ``now``): jobs of one
        conversation and lane run in that order, then by ``arrival`` (the order causes of
        the same moment reached us), then in the order they were queued."""
        ...

    async def enqueue_once(
        self, job: Job, *, now: datetime, seq: datetime | None = None, arrival: int = 0
    ) -> bool:
        """Queue ``job`` unless the same job of that conversation waits unclaimed already;
        True if queued. For jobs that read what is current when they run."""
        ...

    async def enqueue_many(self, jobs: Sequence[QueuedJob], *, now: datetime) -> None:
        """Queue several jobs in one statement, in this order (as ``enqueue`` one by one)."""
        ...

    async def enqueue_collapsed(self, job: Job, *, key: str, now: datetime) -> bool:
        """Queue ``job`` unless a job queued under ``key`` (at most 64 characters) waits
        unclaimed already: that one reads what is current when it runs, so it shows this
        change too. True if queued. Safe against a worker claiming the waiting job at the
        same moment, whatever the number of processes."""
        ...

    async def enqueue_collapsed_many(
        self, jobs: Sequence[tuple[Job, str]], *, now: datetime
    ) -> int:
        """``enqueue_collapsed`` for several (job, key) pairs, in a few statements; how many
        were queued."""
        ...

    async def enqueue_keyed(self, job: Job, *, key: str, now: datetime) -> bool:
        """Queue ``job`` under ``key`` (at most 32 characters), once: False, queuing nothing,
        if a job was ever queued under that key (the same webhook delivered again). The key
        is the job's ``uid``, so it also finds the job's post again."""
        ...

    async def claim(
        self, *, now: datetime, limits: Mapping[Lane, int], lease: timedelta
    ) -> list[ClaimedJob]:
        """Due jobs, up to ``limits[lane]`` of each lane named, with no earlier blocking job
        pending in their conversation and lane, under one new lease, in the order queued."""
        ...

    async def extend(self, job_id: int, token: str, *, until: datetime) -> bool: ...

    async def mark_call_started(self, job_id: int, token: str) -> bool: ...

    async def finish(self, job_id: int, token: str, *, now: datetime) -> bool: ...

    async def retry(
        self,
        job_id: int,
        token: str,
        *,
        not_before: datetime,
        failing_since: datetime,
        reason: str,
        error: str,
    ) -> bool: ...

    async def release(self, job_id: int, token: str, *, not_before: datetime) -> bool:
        """Give a job back untouched (its lane is paused): no try is counted against it."""
        ...

    async def fail(
        self, job_id: int, token: str, *, now: datetime, reason: str, error: str
    ) -> bool: ...

    async def counts(self, *, now: datetime) -> JobCounts: ...

    async def lane_queues(self, *, now: datetime) -> list[LaneQueue]:
        """Pending jobs per lane (lanes with none are left out)."""
        ...

    async def failure_counts(self) -> list[FailureCount]: ...

    async def retrying_counts(self) -> list[FailureCount]:
        """Pending jobs waiting for a retry after failing, by type and last reason."""
        ...

    async def failed(self, *, limit: int) -> list[FailedJob]: ...

    async def get_failed(self, job_id: int) -> FailedJob | None: ...

    async def replay(self, job_id: int, *, now: datetime) -> bool:
        """Queue a failed job again, keeping its place; False if no failed job has that id."""
        ...


class CounterRepository(Protocol):
    """Counts kept in the database, so ``/metrics`` shows the same totals whichever process
    answers and whichever did the work."""

    async def add(self, name: str, amount: int = 1) -> None: ...

    async def all(self) -> dict[str, int]: ...


class SlackEventRepository(Protocol):
    async def remember(self, event_id: str, *, now: datetime) -> bool:
        """True the first time an event id is seen, False for a redelivery."""
        ...


class PauseRepository(Protocol):
    async def active(self) -> list[LanePause]: ...

    async def pause(self, lane: Lane, *, reason: str, now: datetime, probe_after: datetime) -> bool:
        """Pause a lane; True if it was not paused already."""
        ...

    async def postpone_probe(self, lane: Lane, *, probe_after: datetime) -> None: ...

    async def lift(self, lane: Lane) -> bool:
        """End a pause; True if there was one."""
        ...


class HoldRepository(Protocol):
    """Rate limits the other side reported, kept for every process to honour."""

    async def active(self, *, now: datetime) -> list[RateHold]:
        """The holds still in force at ``now``."""
        ...

    async def hold(self, scope: str, *, until: datetime, reason: str, now: datetime) -> None:
        """Hold ``scope`` until ``until``; a hold that lasts longer already stays as it is."""
        ...


class TemplateRepository(Protocol):
    async def replace_all(
        self, waba_id: str, templates: Sequence[MessageTemplate], *, now: datetime
    ) -> None:
        """Keep exactly these templates for the account (a full sync)."""
        ...

    async def apply_update(self, update: TemplateUpdate, *, now: datetime) -> bool:
        """Apply a template webhook; False if the template is not known yet."""
        ...

    async def all(self, waba_id: str) -> list[MessageTemplate]: ...


class ScheduleRepository(Protocol):
    async def reach_mark(
        self, conversation_id: int, *, window_expires_at: datetime, mark_seconds: int, now: datetime
    ) -> bool:
        """Record that a window reached a mark; True only for the first to record it."""
        ...

    async def mark_windows(
        self,
        *,
        after: datetime,
        until: datetime,
        mark_seconds: int,
        now: datetime,
        limit: int,
        with_contacts: bool,
    ) -> list[DueMark]:
        """Record the mark ``mark_seconds`` of the windows ending in ``(after, until]`` that
        have not reached it yet, ``limit`` at most, earliest end first; the marks this call
        recorded (another process's, recorded meanwhile, are left out), with their contacts
        if ``with_contacts``."""
        ...

    async def claim_run(self, job: str, *, slot: int, now: datetime) -> bool:
        """Claim the run of ``job`` in ``slot``; True only for the first to claim it."""
        ...


class RetentionRepository(Protocol):
    """Bookkeeping past its use, deleted at most ``limit`` rows at a time, oldest first; each
    method answers how many rows it deleted (fewer than ``limit``: none of that kind is left).
    Messages, conversations, contacts, templates and counters are never deleted."""

    async def purge_processed_webhooks(self, *, before: datetime, limit: int) -> int:
        """Webhook bodies processed successfully before ``before``; never pending or dead ones."""
        ...

    async def purge_finished_jobs(self, *, before: datetime, limit: int) -> int:
        """Jobs that ended ``done`` before ``before``; never failed (replayable) or pending ones."""
        ...

    async def purge_slack_events(self, *, before: datetime, limit: int) -> int:
        """Slack event ids received before ``before``."""
        ...

    async def purge_window_marks(self, *, before: datetime, limit: int) -> int:
        """Warning marks of windows that ended before ``before``."""
        ...

    async def purge_scheduled_runs(self, *, before: datetime, limit: int) -> int:
        """Claims of scheduled runs made before ``before``."""
        ...


class NumberRepository(Protocol):
    """Business numbers added with ``wabridge numbers add`` (the default one is the
    environment's and is not stored here)."""

    async def added(self) -> list[BusinessNumber]:
        """Every added number, in the order they were added."""
        ...

    async def add(self, number: BusinessNumber, *, now: datetime) -> bool:
        """Store the number, or change it; False if it was added before (and is updated)."""
        ...

    async def remove(self, phone_number_id: str) -> bool:
        """Forget the number's settings (its conversations stay); False if it was not added."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without ``commit()`` rolls back."""

    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def inbox(self) -> InboxRepository: ...
    @property
    def jobs(self) -> JobRepository: ...
    @property
    def slack_events(self) -> SlackEventRepository: ...
    @property
    def pauses(self) -> PauseRepository: ...
    @property
    def holds(self) -> HoldRepository: ...
    @property
    def templates(self) -> TemplateRepository: ...
    @property
    def schedule(self) -> ScheduleRepository: ...
    @property
    def counters(self) -> CounterRepository: ...
    @property
    def numbers(self) -> NumberRepository: ...
    @property
    def retention(self) -> RetentionRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class HandedJobs(Protocol):
    """Jobs claimed inside a transaction for this process's own worker (``Handoff``)."""

    async def start(self) -> None:
        """The transaction committed: run them, and return once each is under way (its
        call to Slack or Meta made), before whoever committed goes on."""
        ...

    def drop(self) -> None:
        """The transaction did not commit: the claims never happened; forget them."""
        ...


class Handoff(Protocol):
    """This process's job worker, offered the jobs a transaction queued before it commits.

    A unit of work that queued jobs asks ``claim`` just before its commit: the worker claims
    what is due in that same transaction (the one claim statement, under the same order and
    leases as its own loop's), and each handler may read what it needs there too. Once the
    commit succeeds the jobs start at once, with no wake, claim or read of their own between
    the work being stored and its call to Slack or Meta."""

    async def claim(self, uow: UnitOfWork) -> HandedJobs | None:
        """None when this process's worker takes nothing now (not serving, or no free slot)."""
        ...
