"""threads and upkeep: more from the reporter, pruned checkpoints, review message index

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporter_more", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("checkpoints_pruned_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_feedback_items_review_message_id"), ["review_message_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_items_review_message_id"))
        batch_op.drop_column("checkpoints_pruned_at")
        batch_op.drop_column("reporter_more")
