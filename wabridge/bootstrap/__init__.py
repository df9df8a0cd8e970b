"""The composition root: builds every part of wabridge from the settings, and runs them.

Each part has its own builder, taking what it needs and allowing overrides: storage
(``wabridge.base``), WhatsApp (``meta``), Slack (``slack``), the workers and the scheduler
(``workers``), the HTTP endpoints (``web``). ``serve.build`` composes them for a process's
role, and ``serve.Bridge`` runs them. Tests build through the same builders, with fakes in
place of the outside world.
"""

from wabridge.base import Storage, SystemClock, build_storage
from wabridge.bootstrap.meta import (
    build_numbers,
    build_templates,
    build_whatsapp,
    meta_rates,
    require_templates,
)
from wabridge.bootstrap.serve import SHUTDOWN_GRACE, Bridge, Role, build
from wabridge.bootstrap.slack import Slack, build_slack, slack_rates
from wabridge.bootstrap.web import build_web
from wabridge.bootstrap.workers import Workers, build_scheduler, build_workers

__all__ = [
    "SHUTDOWN_GRACE",
    "Bridge",
    "Role",
    "Slack",
    "Storage",
    "SystemClock",
    "Workers",
    "build",
    "build_numbers",
    "build_scheduler",
    "build_slack",
    "build_storage",
    "build_templates",
    "build_web",
    "build_whatsapp",
    "build_workers",
    "meta_rates",
    "require_templates",
    "slack_rates",
]
