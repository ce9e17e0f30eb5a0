"""examples: maintainer corrections kept as labelled examples

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "examples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("rejected", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["feedback_items.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("examples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_examples_guild_id"), ["guild_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_examples_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("examples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_examples_item_id"))
        batch_op.drop_index(batch_op.f("ix_examples_guild_id"))
    op.drop_table("examples")
