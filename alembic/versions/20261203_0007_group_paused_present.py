"""group chats: `paused` (the admin's /pause) apart from `present` (the bot is in the group),
`cannot_post` (Telegram refuses the bot's posts there) and `thread_id` (the forum topic)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00.000000

`active` meant both "the admin has not paused the posts" and "the bot is still in the group";
a row with `active = false` cannot tell which. It becomes `paused = true` AND `present =
false`: nothing is posted (as before), the admin's pause is never lifted by anything but their
own /resume, a command from the group (/resume, /setregion, /settime) shows the bot is there,
and a bot that was in fact removed and is added again introduces itself saying the posts are
paused and /resume restarts them. (Taking it as "removed" alone would restart the posts of a
paused group at the next promotion or restriction of the bot: the bug this revision fixes.)
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = "cannot_post IN ('no_rights', 'topic_closed')"


def upgrade() -> None:
    with op.batch_alter_table("group_chats", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("present", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("cannot_post", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("thread_id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE group_chats SET paused = NOT active, present = active")
    with op.batch_alter_table("group_chats", schema=None) as batch_op:
        batch_op.drop_column("active")
        batch_op.create_check_constraint("cannot_post", REASONS)


def downgrade() -> None:
    with op.batch_alter_table("group_chats", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    # Posting (present, not paused, allowed to post) is what `active` meant.
    op.execute("UPDATE group_chats SET active = (present AND NOT paused AND cannot_post IS NULL)")
    with op.batch_alter_table("group_chats", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_group_chats_cannot_post"), type_="check")
        batch_op.drop_column("thread_id")
        batch_op.drop_column("cannot_post")
        batch_op.drop_column("present")
        batch_op.drop_column("paused")
