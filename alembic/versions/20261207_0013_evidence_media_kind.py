"""evidence: `media_kind` — a photo (compressed or as a file), a round video message recorded
live in Telegram (`video_note`) or an ordinary video (`video`, as a video or as a file)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:00:00.000000

Every row before this revision is a photo.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "media_kind IN ('photo', 'video_note', 'video')"


def upgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("media_kind", sa.String(length=12), nullable=False, server_default="photo")
        )
        batch_op.create_check_constraint("media_kind", KINDS)


def downgrade() -> None:
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_evidence_media_kind"), type_="check")
        batch_op.drop_column("media_kind")
