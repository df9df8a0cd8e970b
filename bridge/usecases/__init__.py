"""The use cases, one module per flow, and the table from job type to handler."""

from __future__ import annotations

from typing import Any

from bridge.jobs import (
    Job,
    JobHandler,
    MarkRead,
    PostAgentMessage,
    PostCustomerMessage,
    PostNotice,
    PostOperatorNotice,
    RelayMedia,
    SendReply,
    ShowCustomerChange,
    ShowDelivery,
    ShowWindow,
)
from bridge.ports import ChatSurface, Clock, RelayObserver, UnitOfWorkFactory, WhatsApp
from bridge.usecases.account import PostOperatorNoticeHandler
from bridge.usecases.inbound import PostCustomerMessageHandler, ShowCustomerChangeHandler
from bridge.usecases.media import RelayMediaHandler
from bridge.usecases.notices import PostNoticeHandler, Suggest
from bridge.usecases.sending import MarkReadHandler, SendReplyHandler
from bridge.usecases.statuses import ShowDeliveryHandler
from bridge.usecases.templates import PostAgentMessageHandler
from bridge.usecases.warnings import ShowWindowHandler

__all__ = ["job_handlers"]


def job_handlers(
    *,
    uow: UnitOfWorkFactory,
    chat: ChatSurface,
    whatsapp: WhatsApp,
    clock: Clock,
    relays: RelayObserver | None = None,
    suggest: Suggest | None = None,
) -> dict[type[Job], JobHandler[Any]]:
    """Every job type, and what performs it; ``relays`` hears how long messages took;
    ``suggest`` names the templates to send instead of a reply the window refused."""
    return {
        PostCustomerMessage: PostCustomerMessageHandler(
            uow=uow, chat=chat, clock=clock, relays=relays
        ),
        PostAgentMessage: PostAgentMessageHandler(uow=uow, chat=chat, clock=clock),
        ShowDelivery: ShowDeliveryHandler(uow=uow, chat=chat),
        PostNotice: PostNoticeHandler(uow=uow, chat=chat, suggest=suggest),
        PostOperatorNotice: PostOperatorNoticeHandler(chat=chat),
        ShowWindow: ShowWindowHandler(uow=uow, chat=chat),
        RelayMedia: RelayMediaHandler(uow=uow, chat=chat, whatsapp=whatsapp),
        ShowCustomerChange: ShowCustomerChangeHandler(uow=uow, chat=chat, clock=clock),
        SendReply: SendReplyHandler(
            uow=uow, whatsapp=whatsapp, chat=chat, clock=clock, relays=relays
        ),
        MarkRead: MarkReadHandler(uow=uow, whatsapp=whatsapp),
    }
