"""data lifecycle: deferred triage times, reporter edits, removal marks, departed guilds

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ITEM_TIMES = ("triage_after", "edited_at", "content_removed_at", "unindexed_at")


def upgrade() -> None:
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_text", sa.Text(), nullable=True))
        for name in _ITEM_TIMES:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_feedback_items_author_id"), ["author_id"])
        batch_op.create_index(batch_op.f("ix_feedback_items_guild_id"), ["guild_id"])
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "guild_departures",
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id"),
    )


def downgrade() -> None:
    op.drop_table("guild_departures")
    with op.batch_alter_table("sync_state", schema=None) as batch_op:
        batch_op.drop_column("reconciled_at")
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_items_guild_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_items_author_id"))
        for name in reversed(_ITEM_TIMES):
            batch_op.drop_column(name)
        batch_op.drop_column("edited_text")
