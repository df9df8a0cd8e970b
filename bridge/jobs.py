"""Every kind of queued work, as a frozen dataclass, and the one codec that stores them.

A job belongs to a conversation (but for news about the whole account, which belongs to
none) and a ``Lane`` (the adapter whose calls it makes). Within one conversation and lane,
jobs run in the order of the events that caused them, retries included. A *blocking* job
(a customer message, an agent's reply) holds up the jobs behind it while it is retried; a
*cosmetic* one (a reaction, a status display, a notice) never holds up anything: it waits
for the blocking jobs ahead of it and fails alone.

The table from job type to handler is built in ``bridge.usecases.job_handlers``, since the
handlers are the use cases' own.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Protocol, TypeVar

from bridge.codec import from_json, to_json
from bridge.domain.account import OperatorNotice
from bridge.domain.failures import DeliveryProblem, FailureKind
from bridge.domain.notices import Notice
from bridge.errors import JobDecodeError

if TYPE_CHECKING:
    from bridge.ports.storage import UnitOfWork

__all__ = [
    "ARRIVALS_PER_WEBHOOK",
    "JOB_TYPES",
    "Job",
    "JobContext",
    "JobFailure",
    "JobHandler",
    "JobState",
    "Lane",
    "MarkRead",
    "PostAgentMessage",
    "PostCustomerMessage",
    "PostNotice",
    "PostOperatorNotice",
    "RelayMedia",
    "SendReply",
    "ShowCustomerChange",
    "ShowDelivery",
    "ShowWindow",
    "decode",
    "encode",
]


#: Room for the events of one webhook in a job's ``arrival`` (Meta batches up to 1,000): a job
#: caused by the inbox has ``arrival = inbox row id * ARRIVALS_PER_WEBHOOK + place``.
ARRIVALS_PER_WEBHOOK: Final = 1000


class Lane(enum.StrEnum):
    """Whose calls a job makes; each adapter's work is ordered, and paused, on its own."""

    SLACK = "slack"
    WHATSAPP = "whatsapp"


class JobState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PostCustomerMessage:
    """Post a customer's message in its conversation's thread (opening the thread first)."""

    TYPE: ClassVar[str] = "post_customer_message"
    LANE: ClassVar[Lane] = Lane.SLACK
    BLOCKING: ClassVar[bool] = True

    conversation_id: int
    message_id: int
    #: When its webhook was stored: the start of the relay latency ``/metrics`` shows.
    received_at: datetime | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ShowDelivery:
    """Show an agent's reply's delivery stages on its Slack message (the latest status wins)."""

    TYPE: ClassVar[str] = "show_delivery"
    LANE: ClassVar[Lane] = Lane.SLACK
    BLOCKING: ClassVar[bool] = False

    conversation_id: int
    message_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ShowCustomerChange:
    """Show what a customer did to an earlier message: a reaction on its post (or its
    removal), an edit of its text, or its deletion. It keeps the customer's order, so the
    message it changes has been shown (or has failed) before it runs."""

    TYPE: ClassVar[str] = "show_customer_change"
    LANE: ClassVar[Lane] = Lane.SLACK
    BLOCKING: ClassVar[bool] = True

    conversation_id: int
    message_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RelayMedia:
    """Fetch a customer's picture, video, voice note, document or sticker from Meta and
    upload it into the thread (the message's own post, with its caption, came first)."""

    TYPE: ClassVar[str] = "relay_media"
    LANE: ClassVar[Lane] = Lane.SLACK
    BLOCKING: ClassVar[bool] = False

    conversation_id: int
    message_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ShowWindow:
    """Show the conversation's window (open until when, or closed) on its thread's parent.
    Read when the job runs, so a burst of customer messages costs one update."""

    TYPE: ClassVar[str] = "show_window"
    LANE: ClassVar[Lane] = Lane.SLACK
    BLOCKING: ClassVar[bool] = False

    conversation_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PostNotice:
    """Tell the agents something in the thread; with ``show_window``, first show the window
    on the thread's parent as ``ShowWindow`` does (a window warning: one job, not two)."""

    TYPE: ClassVar[str] = "post_notice"
    LANE: ClassVar[Lane] = Lane.SLACK
    BLOCKING: ClassVar[bool] = False

    conversation_id: int
    notice: Notice
    show_window: bool = False


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PostOperatorNotice:
    """Tell the operators, in a message of its own in ``channel``, about their WhatsApp
    account or one of its numbers (quality, limits, restrictions, bans). It belongs to no
    conversation, so it waits for nothing and holds up nothing."""

    TYPE: ClassVar[str] = "post_operator_notice"
    LANE: ClassVar[Lane] = Lane.SLACK
    BLOCKING: ClassVar[bool] = False
    conversation_id: ClassVar[None] = None

    channel: str
    notice: OperatorNotice


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PostAgentMessage:
    """Show in the thread a message sent from outside it (a template from ``/wa`` or the
    template modal, or a message sent through the REST API), opening the thread if the
    conversation has none yet."""

    TYPE: ClassVar[str] = "post_agent_message"
    LANE: ClassVar[Lane] = Lane.SLACK
    BLOCKING: ClassVar[bool] = True

    conversation_id: int
    message_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SendReply:
    """Send an agent's message to WhatsApp: a thread reply (or one part of a long one), or a
    template."""

    TYPE: ClassVar[str] = "send_reply"
    LANE: ClassVar[Lane] = Lane.WHATSAPP
    BLOCKING: ClassVar[bool] = True

    conversation_id: int
    message_id: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MarkRead:
    """Mark the customer's messages read up to ``wamid`` (an agent has answered)."""

    TYPE: ClassVar[str] = "mark_read"
    LANE: ClassVar[Lane] = Lane.WHATSAPP
    BLOCKING: ClassVar[bool] = False

    conversation_id: int
    wamid: str


Job = (
    PostCustomerMessage
    | PostAgentMessage
    | ShowDelivery
    | ShowWindow
    | RelayMedia
    | ShowCustomerChange
    | PostNotice
    | PostOperatorNotice
    | SendReply
    | MarkRead
)

JOB_TYPES: Final[Mapping[str, type[Job]]] = types.MappingProxyType(
    {cls.TYPE: cls for cls in typing.get_args(Job)}
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class JobFailure:
    """Why a job did not succeed: what its handler's ``delayed`` and ``failed`` receive."""

    job_id: int
    at: datetime
    kind: FailureKind
    reason: str
    error: str
    #: The WhatsApp side of it, when there is one.
    code: int | None = None
    title: str | None = None
    details: str | None = None
    problem: DeliveryProblem | None = None


class JobContext(Protocol):
    """What a handler knows of the claim it runs under (the worker provides it)."""

    @property
    def job_id(self) -> int: ...

    @property
    def uid(self) -> str:
        """Random and stable across retries: the key that finds this job's post again."""
        ...

    @property
    def attempt(self) -> int:
        """1 on the first try."""
        ...

    @property
    def queued_at(self) -> datetime: ...

    @property
    def call_started(self) -> bool:
        """An earlier try started an outside call and recorded no outcome: it may have
        taken effect."""
        ...

    async def starting_call(self, uow: UnitOfWork | None = None) -> None:
        """Record, under the lease, that an outside call that must not be repeated blindly
        is about to leave: in ``uow``, which the caller commits before the call, or in a
        transaction of its own. ``LeaseLostError`` if the lease is no longer the job's."""
        ...

    @property
    def prepared(self) -> object | None:
        """What ``JobHandler.prepare`` returned, when the job was claimed in the transaction
        that queued it; None otherwise (the handler reads for itself)."""
        ...

    async def finish(self, uow: UnitOfWork) -> bool:
        """Mark the job done inside ``uow``'s transaction, beside the handler's own writes.

        False if the lease ran out: the handler's writes (what really happened outside)
        still stand, but the job's outcome belongs to its new holder.
        """
        ...


J = TypeVar("J", bound=Job, contravariant=True)


class JobHandler(Generic[J]):
    """Performs one type of job. ``run`` does the work; ``delayed`` and ``failed`` run in the
    transaction that records a retry or the end of the job, so what they queue or mark is
    kept exactly when the outcome is."""

    async def run(self, job: J, ctx: JobContext) -> None:
        raise NotImplementedError

    async def prepare(self, uow: UnitOfWork, job: J, ctx: JobContext) -> object | None:
        """Read (and write, under ``ctx``'s lease) what ``run`` needs before its call, in the
        transaction that queued the job and claimed it for this process (``Handoff``); the
        transaction commits before ``run`` starts with it as ``ctx.prepared``. None when
        there is nothing to prepare, or anything is out of the ordinary: ``run`` then reads
        for itself and meets it there. Default: nothing."""
        return None

    async def delayed(self, uow: UnitOfWork, job: J, failure: JobFailure, *, attempt: int) -> None:
        """A retry was scheduled; tell someone if it matters. Default: nothing."""

    async def failed(self, uow: UnitOfWork, job: J, failure: JobFailure) -> None:
        """The job ended ``failed``; make that visible where it matters. Default: nothing."""


# --- the codec ------------------------------------------------------------------------------


def encode(job: Job) -> dict[str, Any]:
    """A job's fields as JSON-safe values (its type is stored beside them)."""
    encoded: dict[str, Any] = to_json(job)
    return encoded


def decode(job_type: str, payload: Mapping[str, Any]) -> Job:
    """The job a stored type and payload describe; ``JobDecodeError`` if this version cannot."""
    cls = JOB_TYPES.get(job_type)
    if cls is None:
        raise JobDecodeError(f"unknown job type {job_type!r}")
    try:
        return from_json(cls, payload)
    except (KeyError, TypeError, ValueError) as error:
        raise JobDecodeError(f"{job_type}: {type(error).__name__}: {error}") from None
