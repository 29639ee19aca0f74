"""evidence: `sha256` of the bytes downloaded from Telegram, and the same bytes approved once

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 11:00:00.000000

The verification job records each photo's SHA-256, so a file sent again (by the same person
after a rejection, or by anyone once it was approved) is refused automatically (issue 21). The
partial unique index `uq_evidence_sha256_approved` makes "the same bytes pay once" a rule of
the database: a second approval of those bytes fails. Rows before this revision have no
SHA-256 (their files may be gone already); they never clash.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPROVED = sa.text("status = 'approved'")


def upgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_evidence_sha256"), "evidence", ["sha256"], unique=False)
    op.create_index(
        "uq_evidence_sha256_approved", "evidence", ["sha256"], unique=True,
        sqlite_where=APPROVED, postgresql_where=APPROVED,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_evidence_sha256_approved", table_name="evidence")
    op.drop_index(op.f("ix_evidence_sha256"), table_name="evidence")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_column("sha256")
