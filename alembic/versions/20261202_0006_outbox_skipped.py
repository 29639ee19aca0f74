"""outbox rows may be `skipped`: not sent because the recipient had blocked the bot

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 15:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status IN ('pending', 'sending', 'sent', 'failed')"
NEW = "status IN ('pending', 'sending', 'sent', 'failed', 'skipped')"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_status"), NEW)


def downgrade() -> None:
    # A skipped row was given up, as a failed one is.
    op.execute("UPDATE outbox SET status = 'failed' WHERE status = 'skipped'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_status"), type_="check")
        batch_op.create_check_constraint(batch_op.f("ck_outbox_status"), OLD)
