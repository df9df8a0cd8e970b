"""status details (played, pricing), jobs of no conversation, counters

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 06:00:00

Messages record when a voice note was played and how Meta prices them. Jobs may belong to
no conversation (news about the whole account, posted in a channel). ``counters`` keeps
totals ``/metrics`` reports the same from every process.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("played_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("pricing_category", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("billable", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("pricing_model", sa.String(length=32), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("conversation_id", existing_type=_BIG_ID, nullable=True)
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )


def downgrade() -> None:
    op.drop_table("counters")
    # Jobs of no conversation cannot be kept where every job needs one.
    op.execute("DELETE FROM jobs WHERE conversation_id IS NULL")
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("conversation_id", existing_type=_BIG_ID, nullable=False)
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("pricing_model")
        batch.drop_column("billable")
        batch.drop_column("pricing_category")
        batch.drop_column("played_at")
