"""The Protocols through which the core reaches the outside world, and the records they return.

The adapters (``whatsapp``, ``slack_app``, ``storage``) satisfy them structurally; tests
satisfy them with small fakes. Nothing here knows HTTP, Slack or SQL.
"""

from bridge.ports.chat import (
    AgentMessageView,
    ChatSurface,
    ContactView,
    CustomerMessageView,
    FileSlot,
)
from bridge.ports.clock import Clock
from bridge.ports.observer import Api, CallObserver, RelayObserver, Unobserved
from bridge.ports.pacing import Holds
from bridge.ports.records import (
    BusinessNumber,
    ClaimedJob,
    ContactTally,
    ConversationKey,
    ConversationRecord,
    DeadWebhook,
    FailedJob,
    FailureCount,
    InboxRow,
    JobCounts,
    LanePause,
    LaneQueue,
    MessageRecord,
    MessageStats,
    NewMessage,
    QueuedJob,
    RateHold,
)
from bridge.ports.storage import (
    ConversationRepository,
    CounterRepository,
    HoldRepository,
    InboxRepository,
    JobRepository,
    MessageRepository,
    NumberRepository,
    PauseRepository,
    RetentionRepository,
    SlackEventRepository,
    TemplateRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)
from bridge.ports.whatsapp import MediaFile, OutboundContent, WebhookParser, WhatsApp

__all__ = [
    "AgentMessageView",
    "Api",
    "BusinessNumber",
    "CallObserver",
    "ChatSurface",
    "ClaimedJob",
    "Clock",
    "ContactTally",
    "ContactView",
    "ConversationKey",
    "ConversationRecord",
    "ConversationRepository",
    "CounterRepository",
    "CustomerMessageView",
    "DeadWebhook",
    "FailedJob",
    "FailureCount",
    "FileSlot",
    "HoldRepository",
    "Holds",
    "InboxRepository",
    "InboxRow",
    "JobCounts",
    "JobRepository",
    "LanePause",
    "LaneQueue",
    "MediaFile",
    "MessageRecord",
    "MessageRepository",
    "MessageStats",
    "NewMessage",
    "NumberRepository",
    "OutboundContent",
    "PauseRepository",
    "QueuedJob",
    "RateHold",
    "RelayObserver",
    "RetentionRepository",
    "SlackEventRepository",
    "TemplateRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "Unobserved",
    "WebhookParser",
    "WhatsApp",
]
