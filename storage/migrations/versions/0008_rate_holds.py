"""rate limits stored for every process; status displays that collapse

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 10:00:00

``rate_holds`` keeps the rate limits Slack and Meta reported (a ``429``'s ``Retry-After``,
Meta's throughput error) per scope (a Slack method, a channel's posts, a business number),
so that every worker process waits them out, not only the one that was refused.
``jobs.collapse_key`` lets a job that shows what is current when it runs (a message's
delivery) stand for the later ones queued while it waits.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_holds",
        sa.Column("scope", sa.String(length=128), nullable=False),
        sa.Column("until", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_rate_holds")),
    )
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("collapse_key", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_jobs_collapse_key"), "jobs", ["collapse_key"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_collapse_key"), table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("collapse_key")
    op.drop_table("rate_holds")
