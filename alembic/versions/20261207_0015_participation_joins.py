"""participations: `joins` (how many times the person joined the meetup, the occasion in the
outbox keys of join, leave and promotion notices) and `last_press` (the button press that made
the current join or leave, so the same press handled again is recognised)

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07 12:00:00.000000

Every participation before this revision was joined once; its notices were queued under the
old keys (`join:<participation id>:<timestamp>`), which no new key can repeat.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("joins", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("last_press", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("participations", schema=None) as batch_op:
        batch_op.drop_column("last_press")
        batch_op.drop_column("joins")
