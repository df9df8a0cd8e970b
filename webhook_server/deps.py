"""What the web layer receives, already built, from the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from bridge.ports import Clock, UnitOfWorkFactory
from bridge.usecases.api import RestApi
from webhook_server.metrics import Metrics

__all__ = ["QUIET", "SlackHandler", "SlackReply", "WebDeps", "WebhookTraffic"]


class SlackReply(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def body(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...


class WebhookTraffic(Protocol):
    """What the process hears of Meta's webhooks as the route serves them: the loops of the
    same process give way while they pour in, and take smaller steps while requests wait
    (``bridge.workers.Rush``)."""

    def arrived(self) -> None:
        """A webhook request came in."""

    def stored(self) -> None:
        """Its body is stored and committed."""

    def answered(self) -> None:
        """It was answered, whatever the answer."""


class _Quiet:
    def arrived(self) -> None:
        pass

    def stored(self) -> None:
        pass

    def answered(self) -> None:
        pass


#: Nothing listens (a process that only answers, or a test).
QUIET: WebhookTraffic = _Quiet()


#: Slack's endpoint: the raw body (already size-capped), the headers and the query string.
SlackHandler = Callable[[bytes, Mapping[str, str], str], Awaitable[SlackReply]]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebDeps:
    uow: UnitOfWorkFactory
    #: Whether the X-Hub-Signature-256 header signs the body (with the named numbers' secret).
    verify_signature: Callable[[bytes, str | None], Awaitable[bool]]
    verify_token: str
    api_token: str | None
    #: What the REST API reads and sends.
    api: RestApi
    clock: Clock
    ready: Callable[[], Awaitable[bool]]
    slack_handler: SlackHandler | None
    metrics: Metrics
    #: Slack listeners running now (they run after the ack): part of "is the bridge idle".
    listeners_running: Callable[[], int] = lambda: 0
    #: Told of every webhook request as it comes, is stored and is answered.
    webhooks: WebhookTraffic = QUIET
