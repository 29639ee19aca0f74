"""barred phones: the keyed phone hash of an account deleted while suspended or banned, kept
until the suspension ends so the number cannot sign up again at once

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "barred_phones",
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("until", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone_hash", name=op.f("pk_barred_phones")),
    )
    with op.batch_alter_table("barred_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_barred_phones_until"), ["until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("barred_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_barred_phones_until"))
    op.drop_table("barred_phones")
