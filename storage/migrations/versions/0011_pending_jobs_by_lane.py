"""the claim walks each lane's pending jobs in the order it takes them

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 19:00:00

A claim takes each lane's oldest due jobs. It read them by ``(state, not_before)`` and
sorted every due job by id to keep the first few, so each claim cost as much as the backlog
was long, just when a backlog formed (1.5 ms a claim at 1,000 due jobs on SQLite, one claim
per commit). ``ix_jobs_pending_lane_id`` holds only pending jobs, by lane and id: the claim
walks it in order and stops at its limit (20 µs at any backlog).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_jobs_pending_lane_id",
        "jobs",
        ["lane", "id"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_pending_lane_id", table_name="jobs")
