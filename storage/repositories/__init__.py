"""One repository per aggregate, each with methods named for what they mean."""

from storage.repositories.conversations import SqlConversations
from storage.repositories.counters import SqlCounters
from storage.repositories.holds import SqlHolds
from storage.repositories.inbox import SqlInbox
from storage.repositories.jobs import SqlJobs
from storage.repositories.messages import SqlMessages
from storage.repositories.numbers import SqlNumbers
from storage.repositories.pauses import SqlPauses
from storage.repositories.retention import SqlRetention
from storage.repositories.schedule import SqlSchedule
from storage.repositories.slack_events import SqlSlackEvents
from storage.repositories.templates import SqlTemplates

__all__ = [
    "SqlConversations",
    "SqlCounters",
    "SqlHolds",
    "SqlInbox",
    "SqlJobs",
    "SqlMessages",
    "SqlNumbers",
    "SqlPauses",
    "SqlRetention",
    "SqlSchedule",
    "SqlSlackEvents",
    "SqlTemplates",
]
