"""the indexes the retention purge reads

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:00:00

The purge (``WABRIDGE_RETENTION``) deletes old bookkeeping a batch at a time, each batch a
range at the start of an index: processed webhooks and finished jobs by when they finished
(partial indexes ``WHERE state = 'done'``, so storing a webhook or queuing a job never writes
to them), Slack event ids by when they came, window marks by the window's end.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_DONE = sa.text("state = 'done'")


def upgrade() -> None:
    op.create_index(
        "ix_webhook_inbox_done_processed_at",
        "webhook_inbox",
        ["processed_at"],
        unique=False,
        postgresql_where=_DONE,
        sqlite_where=_DONE,
    )
    op.create_index(
        "ix_jobs_done_finished_at",
        "jobs",
        ["finished_at"],
        unique=False,
        postgresql_where=_DONE,
        sqlite_where=_DONE,
    )
    op.create_index("ix_slack_events_received_at", "slack_events", ["received_at"], unique=False)
    op.create_index(
        "ix_window_marks_window_expires_at", "window_marks", ["window_expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_window_marks_window_expires_at", table_name="window_marks")
    op.drop_index("ix_slack_events_received_at", table_name="slack_events")
    op.drop_index("ix_jobs_done_finished_at", table_name="jobs")
    op.drop_index("ix_webhook_inbox_done_processed_at", table_name="webhook_inbox")
