"""participations: how a check-in proved presence (`checkin_method`, `checkin_location`,
`checkin_distance_m`), the location step it waits for (`checkin_presented_at`,
`checkin_pending_until`) and the message that completed it (`checkin_message_id`)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:00:00.000000

Check-ins recorded before this revision keep NULL in every new column: the host's list shows
them as checked in, without how.
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checkin_method", sa.String(length=8), nullable=True))
        batch_op.add_column(
            sa.Column(
                "checkin_presented_at", storage.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "checkin_pending_until", storage.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("checkin_location", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("checkin_distance_m", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("checkin_message_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.drop_column("checkin_message_id")
        batch_op.drop_column("checkin_distance_m")
        batch_op.drop_column("checkin_location")
        batch_op.drop_column("checkin_pending_until")
        batch_op.drop_column("checkin_presented_at")
        batch_op.drop_column("checkin_method")
