"""gathering_taps and gatherings: taps of "🙋" on a group's daily post and the meetup they
made (issue 23); group_chats: `gather_size`, how many taps make a meetup (default 3)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "gathering_taps",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("tapped_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mission_id"], ["missions.id"], name=op.f("fk_gathering_taps_mission_id_missions")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_gathering_taps_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gathering_taps")),
        sa.UniqueConstraint(
            "chat_id", "day", "mission_id", "user_id",
            name=op.f("uq_gathering_taps_chat_id_day_mission_id_user_id"),
        ),
    )  # fmt: skip
    op.create_index(op.f("ix_gathering_taps_user_id"), "gathering_taps", ["user_id"], unique=False)
    op.create_table(
        "gatherings",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("mission_id", ID, nullable=False),
        sa.Column("meeting_id", ID, nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_gatherings_meeting_id_meetings")
        ),
        sa.ForeignKeyConstraint(
            ["mission_id"], ["missions.id"], name=op.f("fk_gatherings_mission_id_missions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gatherings")),
        sa.UniqueConstraint(
            "chat_id", "day", "mission_id", name=op.f("uq_gatherings_chat_id_day_mission_id")
        ),
    )
    with op.batch_alter_table("group_chats", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("gather_size", sa.Integer(), nullable=False, server_default="3")
        )


def downgrade() -> None:
    with op.batch_alter_table("group_chats", schema=None) as batch_op:
        batch_op.drop_column("gather_size")
    op.drop_table("gatherings")
    op.drop_index(op.f("ix_gathering_taps_user_id"), table_name="gathering_taps")
    op.drop_table("gathering_taps")
