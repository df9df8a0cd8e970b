"""business numbers of their own, sends frozen once started, posts found by their ts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 13:00:00

Business numbers added with ``wabridge numbers add`` keep their WABA, and may keep their own
access token and app secret; ``added_at`` tells them from the rows conversations created.
``messages.send_started_at`` marks a reply whose send began, so an agent's late edit is
refused instead of being applied to text that already left. ``ix_messages_slack_ts`` finds
the customer message behind a Slack post (agents' reactions and quotes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("business_numbers") as batch:
        batch.add_column(sa.Column("waba_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("access_token", sa.String(length=1024), nullable=True))
        batch.add_column(sa.Column("app_secret", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("added_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("send_started_at", UTCDateTime(), nullable=True))
    op.create_index(op.f("ix_messages_slack_ts"), "messages", ["slack_ts"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_slack_ts"), table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("send_started_at")
    with op.batch_alter_table("business_numbers") as batch:
        batch.drop_column("added_at")
        batch.drop_column("app_secret")
        batch.drop_column("access_token")
        batch.drop_column("waba_id")
