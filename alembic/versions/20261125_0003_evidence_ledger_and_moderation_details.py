"""evidence, ledger and moderation details

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 21:55:02.691138
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_blocks",
        sa.Column("blocker_id", sa.BigInteger(), nullable=False),
        sa.Column("blocked_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("blocker_id <> blocked_id", name=op.f("ck_user_blocks_not_self")),
        sa.ForeignKeyConstraint(
            ["blocked_id"], ["users.id"], name=op.f("fk_user_blocks_blocked_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["blocker_id"], ["users.id"], name=op.f("fk_user_blocks_blocker_id_users")
        ),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name=op.f("pk_user_blocks")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signals", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("attempt", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )
        batch_op.drop_constraint(op.f("ck_evidence_status"), type_="check")
        batch_op.create_check_constraint(
            "status",
            "status IN ('received', 'checking', 'in_review', 'approved', 'rejected', 'retry')",
        )

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tags", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("actor_id", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("handled_by", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suspended_until", storage.types.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("voucher_codes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refunded_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("voucher_codes", schema=None) as batch_op:
        batch_op.drop_column("refunded_at")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("suspended_until")

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("handled_by")
        batch_op.drop_column("action")

    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_column("actor_id")
        batch_op.drop_column("note")

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("tags")

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_evidence_status"), type_="check")
        batch_op.create_check_constraint(
            "status", "status IN ('received', 'checking', 'in_review', 'approved', 'rejected')"
        )
        batch_op.drop_column("attempt")
        batch_op.drop_column("signals")

    op.drop_table("user_blocks")
