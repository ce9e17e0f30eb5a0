"""comment mirrors: issue comments shown in Discord and reporter messages posted on GitHub

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "comment_mirrors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("mirrored_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["feedback_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id", "source", "source_id", name="uq_comment_mirrors_source"),
    )
    with op.batch_alter_table("comment_mirrors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_comment_mirrors_item_id"), ["item_id"])
        batch_op.create_index(batch_op.f("ix_comment_mirrors_guild_id"), ["guild_id"])
        batch_op.create_index(batch_op.f("ix_comment_mirrors_thread_id"), ["thread_id"])
        batch_op.create_index(batch_op.f("ix_comment_mirrors_mirrored_id"), ["mirrored_id"])


def downgrade() -> None:
    with op.batch_alter_table("comment_mirrors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_comment_mirrors_mirrored_id"))
        batch_op.drop_index(batch_op.f("ix_comment_mirrors_thread_id"))
        batch_op.drop_index(batch_op.f("ix_comment_mirrors_guild_id"))
        batch_op.drop_index(batch_op.f("ix_comment_mirrors_item_id"))
    op.drop_table("comment_mirrors")
