"""report cards: a report records where its card is in the admin group (`card_chat_id`,
`card_message_id`), so `/deleteme` finds the card after the notice's outbox row is gone

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00.000000

Reports whose card went out before this revision get it from their `report:<id>` outbox row
while that row is still kept; after it, `storage.admin_cards` still looks there as well.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("card_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("card_message_id", sa.BigInteger(), nullable=True))
    # The cards already sent, while their notices are still kept.
    op.execute(
        "UPDATE reports SET "
        "card_chat_id = (SELECT o.chat_id FROM outbox o "
        "WHERE o.dedupe_key = 'report:' || reports.id AND o.sent_message_id IS NOT NULL), "
        "card_message_id = (SELECT o.sent_message_id FROM outbox o "
        "WHERE o.dedupe_key = 'report:' || reports.id AND o.sent_message_id IS NOT NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_column("card_message_id")
        batch_op.drop_column("card_chat_id")
