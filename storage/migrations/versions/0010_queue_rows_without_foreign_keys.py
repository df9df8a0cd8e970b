"""jobs and window marks keep their conversation's id without a foreign key

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 10:00:00

Both tables are written in bulk on the hot paths: every customer message queues its post,
and every window scan records a mark and queues one or two jobs for each window that
crossed a mark (some 5,500 rows a minute past a million open windows). On PostgreSQL a
foreign key checks each row with a ``FOR KEY SHARE`` lock on its conversation, which writes
to the conversation's row: a third of the time the scan's job insert took. Conversations
are never deleted (the retention purge keeps them), and both tables are written only with
the id of a conversation just read, so the constraint guarded nothing the code can do.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_KEYS = (
    ("jobs", "fk_jobs_conversation_id_conversations"),
    ("window_marks", "fk_window_marks_conversation_id_conversations"),
)


def upgrade() -> None:
    for table, name in _KEYS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table, name in _KEYS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(name, "conversations", ["conversation_id"], ["id"])
