"""forum posts: the post an item came from, its title, tag labels and replies

Revision ID: 0009
Revises: 0005
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("forum_post_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("title", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reporter_labels", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("context", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_feedback_items_forum_post_id"), ["forum_post_id"])


def downgrade() -> None:
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_items_forum_post_id"))
        batch_op.drop_column("context")
        batch_op.drop_column("reporter_labels")
        batch_op.drop_column("title")
        batch_op.drop_column("forum_post_id")
