"""window marks, scheduled runs, and the index the window scan reads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_conversations_window_expires_at", "conversations", ["window_expires_at"], unique=False
    )
    op.create_table(
        "window_marks",
        sa.Column(
            "conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("window_expires_at", UTCDateTime(), nullable=False),
        sa.Column("mark_seconds", sa.Integer(), nullable=False),
        sa.Column("reached_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_window_marks_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint(
            "conversation_id", "window_expires_at", "mark_seconds", name=op.f("pk_window_marks")
        ),
    )
    op.create_table(
        "scheduled_runs",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job", "slot", name=op.f("pk_scheduled_runs")),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
    op.drop_table("window_marks")
    op.drop_index("ix_conversations_window_expires_at", table_name="conversations")
