"""How delivery shows on an agent's message: one reaction per stage reached.

These are the status emoji: a customer's reaction with one of them is shown as a line in the
thread, never as a reaction that could pass for a status.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from bridge.domain import MessageStatus

__all__ = ["STAGE_REACTIONS"]

STAGE_REACTIONS: Final[Mapping[MessageStatus, str]] = MappingProxyType(
    {
        MessageStatus.SENT: "heavy_check_mark",
        MessageStatus.DELIVERED: "mailbox_with_mail",
        MessageStatus.READ: "eyes",
        # A voice note played: a stage of its own after read.
        MessageStatus.PLAYED: "headphones",
        MessageStatus.FAILED: "x",
    }
)
