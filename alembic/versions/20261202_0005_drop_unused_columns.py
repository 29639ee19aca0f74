"""drop unused columns: users.level, users.banned, feedback.comment, meetings.place_address

A level is computed from the points ever earned (storage/progress.py), a suspension is
`users.suspended_until`; `banned` was never set, and `feedback.comment` and
`meetings.place_address` were never written (a venue's address line is the mission's title).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_level_positive"), type_="check")
        batch_op.drop_column("level")
        batch_op.drop_column("banned")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("comment")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("place_address")


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("place_address", sa.String(200), server_default="", nullable=False)
        )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.alter_column("place_address", server_default=None)
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comment", sa.Text(), nullable=True))
    # Existing rows get the models' old defaults; the server defaults then go, as before.
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("level", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("banned", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_check_constraint(batch_op.f("ck_users_level_positive"), "level >= 1")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("level", server_default=None)
        batch_op.alter_column("banned", server_default=None)
