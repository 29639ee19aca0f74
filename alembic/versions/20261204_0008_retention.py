"""retention: a handled inbox row keeps no raw update (`payload` may be NULL; its type, chat
and sender stay as columns), and an evidence row records when its photo file was deleted

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00.000000

Rows handled before this revision lose their raw update here (phone numbers, locations, names
and texts); they keep their update id and times, which is all deduplication needs. Their new
columns stay NULL: the retention job deletes them within `inbox_retention_days` anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=True)
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("user_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_inbox_user_id"), ["user_id"], unique=False)
    op.execute("UPDATE inbox SET payload = NULL WHERE status <> 'pending'")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("photo_deleted_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("photo_deleted_at")
    # The raw updates of handled rows are gone; an empty object stands in (never replayed).
    op.execute("UPDATE inbox SET payload = '{}' WHERE payload IS NULL")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_user_id"))
        batch_op.drop_column("user_id")
        batch_op.drop_column("chat_id")
        batch_op.drop_column("kind")
        batch_op.alter_column("payload", existing_type=sa.JSON(), nullable=False)
