"""typed jobs with fenced leases, lane pauses, conversation uids

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:00:00

The ``outbox`` table becomes ``jobs``: typed jobs ordered by ``seq`` within a conversation
and lane, claimed under a fenced lease, and kept with a reason when they fail. Pending
outbox rows are carried over, so an upgrade loses no queued work.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Old outbox kind -> (job type, lane, blocking).
_OLD_KINDS = {
    "customer_message": ("post_customer_message", "slack", True),
    "delivery": ("show_delivery", "slack", False),
    "notice": ("post_notice", "slack", False),
    "whatsapp_send": ("send_reply", "whatsapp", True),
}


def _as_utc(value: Any) -> datetime:
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _micros(value: datetime) -> int:
    return int(value.timestamp()) * 1_000_000 + value.microsecond


def upgrade() -> None:
    bind = op.get_bind()

    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("uid", sa.String(length=32), nullable=True))
    conversations = sa.table("conversations", sa.column("id", _BIG_ID), sa.column("uid"))
    for (conversation_id,) in bind.execute(sa.select(conversations.c.id)).all():
        bind.execute(
            conversations.update()
            .where(conversations.c.id == conversation_id)
            .values(uid=uuid.uuid4().hex)
        )
    with op.batch_alter_table("conversations") as batch:
        batch.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
        batch.create_unique_constraint(op.f("uq_conversations_uid"), ["uid"])

    with op.batch_alter_table("webhook_inbox") as batch:
        batch.add_column(sa.Column("failure_reason", sa.String(length=64), nullable=True))
    bind.execute(
        sa.text(
            "UPDATE webhook_inbox SET state = 'failed', failure_reason = 'unparseable' "
            "WHERE state = 'dead'"
        )
    )

    jobs = op.create_table(
        "jobs",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", _BIG_ID, nullable=False),
        sa.Column("lane", sa.String(length=16), nullable=False),
        sa.Column("job_type", sa.String(length=48), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("blocking", sa.Boolean(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("arrival", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("call_started", sa.Boolean(), nullable=False),
        sa.Column("failing_since", UTCDateTime(), nullable=True),
        sa.Column("failure_reason", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_jobs_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("uid", name=op.f("uq_jobs_uid")),
    )
    op.create_index(
        "ix_jobs_state_conversation_id_lane_seq",
        "jobs",
        ["state", "conversation_id", "lane", "seq", "arrival"],
        unique=False,
    )
    op.create_index("ix_jobs_state_not_before", "jobs", ["state", "not_before"], unique=False)
    op.create_table(
        "lane_pauses",
        sa.Column("lane", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("probe_after", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("lane", name=op.f("pk_lane_pauses")),
    )

    # Carry pending work over, in its order.
    pending = bind.execute(
        sa.text(
            "SELECT conversation_id, kind, payload, not_before, created_at FROM outbox "
            "WHERE state = 'pending' ORDER BY id"
        )
    ).all()
    rows = []
    for conversation_id, kind, payload, not_before, created_at in pending:
        if kind not in _OLD_KINDS:
            continue
        job_type, lane, blocking = _OLD_KINDS[kind]
        old = json.loads(payload) if isinstance(payload, str) else dict(payload)
        new: dict[str, Any] = {"conversation_id": conversation_id}
        if job_type == "post_notice":
            new["notice"] = {k: v for k, v in old.items() if v is not None}
        else:
            new["message_id"] = old["message_id"]
        created = _as_utc(created_at)
        rows.append(
            {
                "uid": uuid.uuid4().hex,
                "conversation_id": conversation_id,
                "lane": lane,
                "job_type": job_type,
                "payload": new,
                "blocking": blocking,
                "seq": _micros(created),
                "arrival": 0,
                "state": "pending",
                "attempts": 0,
                "not_before": _as_utc(not_before),
                "call_started": False,
                "created_at": created,
            }
        )
    if rows:
        op.bulk_insert(jobs, rows)

    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_state_conversation_id_lane")
    op.drop_table("outbox")


def downgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("conversation_id", _BIG_ID, nullable=False),
        sa.Column("lane", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_outbox_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_state_conversation_id_lane",
        "outbox",
        ["state", "conversation_id", "lane", "id"],
        unique=False,
    )
    op.drop_table("lane_pauses")
    op.drop_index("ix_jobs_state_not_before", table_name="jobs")
    op.drop_index("ix_jobs_state_conversation_id_lane_seq", table_name="jobs")
    op.drop_table("jobs")
    op.execute("UPDATE webhook_inbox SET state = 'dead' WHERE state = 'failed'")
    with op.batch_alter_table("webhook_inbox") as batch:
        batch.drop_column("failure_reason")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint(op.f("uq_conversations_uid"), type_="unique")
        batch.drop_column("uid")
