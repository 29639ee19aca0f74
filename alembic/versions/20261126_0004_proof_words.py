"""proof words: a one-time word per participation, unique within a meeting

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proof_word", sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_participations_meeting_id_proof_word"), ["meeting_id", "proof_word"]
        )


def downgrade() -> None:
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("uq_participations_meeting_id_proof_word"), type_="unique"
        )
        batch_op.drop_column("proof_word")
