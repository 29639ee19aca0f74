"""meetups can change (issue 23): `meetings.postponements` (how many times the host moved the
start: the occasion in the keys of the postponement's notices and the new time's reminders)
and `participations.confirm_by` (until when a person keeps their place by saying "still
coming" after a postponement)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("postponements", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confirm_by", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_participations_confirm_by", ["confirm_by"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.drop_index("ix_participations_confirm_by")
        batch_op.drop_column("confirm_by")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("postponements")
