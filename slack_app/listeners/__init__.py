"""The bolt listeners: each module registers its own with ``register(app, deps)``.

Listeners ack, translate what Slack sent, and call the core; nothing more.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

from slack_bolt.async_app import AsyncApp

from bridge.usecases.reactions import AgentReactions
from bridge.usecases.replies import Replies, ReplyChanges
from bridge.usecases.resends import Resends
from bridge.usecases.status import StatusReports
from bridge.usecases.templates import TemplateMessages, TemplatePicker, Templates
from slack_app.text import UserNames

__all__ = ["Activity", "ListenerDeps", "register_all"]

P = ParamSpec("P")
R = TypeVar("R")


class Activity:
    """How many listeners are running now: a bridge is idle only when this is zero (tests
    and ``/metrics`` read it), since bolt runs listeners after it has acked Slack."""

    def __init__(self) -> None:
        self.running = 0

    def track(self, listener: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(listener)
        async def tracked(*args: P.args, **kwargs: P.kwargs) -> R:
            self.running += 1
            try:
                return await listener(*args, **kwargs)
            finally:
                self.running -= 1

        return tracked


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenerDeps:
    """What the listeners need, built by the composition root."""

    replies: Replies
    changes: ReplyChanges
    users: UserNames
    note_prefix: str
    status: StatusReports
    #: None without META_WABA_ID: the template commands then say so.
    templates: Templates | None = None
    template_messages: TemplateMessages | None = None
    template_picker: TemplatePicker | None = None
    #: None where agents' reactions are not sent (tests that do not need them).
    reactions: AgentReactions | None = None
    #: The Retry and Send again buttons of failure notices.
    resends: Resends | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    activity: Activity = field(default_factory=Activity)


def register_all(app: AsyncApp, deps: ListenerDeps) -> None:
    """Register every listener of wabridge on ``app``."""
    from slack_app.listeners import commands, messages, modals, resends

    for module in (messages, commands, modals, resends):
        module.register(app, deps)
