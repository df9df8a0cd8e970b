"""indexes the window scan reads alone; the job index only keyed jobs need

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 12:00:00

The scan leaves out the windows that reached a mark already: it now reads a range of
``(window_expires_at, id)`` on conversations and the same range of ``(window_expires_at,
mark_seconds, conversation_id)`` on the marks, both from the index alone, and merges them.
Each replaces its table's index on ``window_expires_at``, which it leads with (the retention
purge reads the marks' one).

``ix_jobs_collapse_key`` becomes partial: only the jobs queued under a key are looked up by
it, and every other job (nearly all) no longer writes to it when it is queued.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_conversations_window_expires_at_id", "conversations", ["window_expires_at", "id"]
    )
    op.drop_index("ix_conversations_window_expires_at", table_name="conversations")
    op.create_index(
        "ix_window_marks_window_expires_at_mark_seconds",
        "window_marks",
        ["window_expires_at", "mark_seconds", "conversation_id"],
    )
    op.drop_index("ix_window_marks_window_expires_at", table_name="window_marks")
    op.drop_index("ix_jobs_collapse_key", table_name="jobs")
    op.create_index(
        "ix_jobs_collapse_key",
        "jobs",
        ["collapse_key"],
        postgresql_where=sa.text("collapse_key IS NOT NULL"),
        sqlite_where=sa.text("collapse_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_collapse_key", table_name="jobs")
    op.create_index("ix_jobs_collapse_key", "jobs", ["collapse_key"])
    op.create_index("ix_window_marks_window_expires_at", "window_marks", ["window_expires_at"])
    op.drop_index("ix_window_marks_window_expires_at_mark_seconds", table_name="window_marks")
    op.create_index("ix_conversations_window_expires_at", "conversations", ["window_expires_at"])
    op.drop_index("ix_conversations_window_expires_at_id", table_name="conversations")
