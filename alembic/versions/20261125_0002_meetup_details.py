"""meetup details: note, joining closed, end time, no-shows; capacity 2-10

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:45:26.038927
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("joining_closed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("ends_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    # Meetups created before this revision last an hour.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE meetings SET ends_at = datetime(starts_at, '+1 hour')")
    else:
        op.execute("UPDATE meetings SET ends_at = starts_at + interval '1 hour'")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.alter_column(
            "ends_at", existing_type=storage.types.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.drop_constraint(op.f("ck_meetings_capacity_min"), type_="check")
        batch_op.create_check_constraint("capacity_range", "capacity >= 2 AND capacity <= 10")
        batch_op.create_check_constraint("ends_after_start", "ends_at > starts_at")

    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("no_show_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.drop_column("no_show_at")

    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_meetings_ends_after_start"), type_="check")
        batch_op.drop_constraint(op.f("ck_meetings_capacity_range"), type_="check")
        batch_op.create_check_constraint("capacity_min", "capacity >= 2")
        batch_op.drop_column("ends_at")
        batch_op.drop_column("joining_closed")
        batch_op.drop_column("note")
