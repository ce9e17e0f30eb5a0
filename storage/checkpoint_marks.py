"""Which finished items still have graph checkpoints, and marking them pruned."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, select, update

from storage.db import Database
from storage.models import FINISHED_STATUSES, FeedbackItem, utcnow

_ITEMS = FeedbackItem.__table__  # type: ignore[attr-defined]
_FINISHED = [str(status) for status in FINISHED_STATUSES]


def _finished_and_unpruned() -> tuple[ColumnElement[bool], ...]:
    return (
        _ITEMS.c.flow_done.is_(True),
        _ITEMS.c.status.in_(_FINISHED),
        _ITEMS.c.checkpoints_pruned_at.is_(None),
    )


class CheckpointMarks:
    """Bookkeeping of checkpoint pruning on `feedback_items.checkpoints_pruned_at`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def unpruned(self, *, limit: int) -> dict[int, int | None]:
        """Finished items whose checkpoints remain: item id -> guild id, oldest first."""
        stmt = (
            select(_ITEMS.c.id, _ITEMS.c.guild_id)
            .where(*_finished_and_unpruned())
            .order_by(_ITEMS.c.id)
            .limit(limit)
        )
        rows = await self.db.read(lambda conn: conn.execute(stmt).all())
        return {int(row.id): row.guild_id for row in rows}

    async def still_finished(self, item_ids: Sequence[int]) -> list[int]:
        """Those of `item_ids` that are still finished and unpruned (none was sent back)."""
        if not item_ids:
            return []
        stmt = select(_ITEMS.c.id).where(_ITEMS.c.id.in_(list(item_ids)), *_finished_and_unpruned())
        return sorted(await self.db.read(lambda conn: list(conn.execute(stmt).scalars())))

    async def mark_pruned(self, item_ids: Sequence[int]) -> int:
        """Record that these items' checkpoints are gone, unless one was triaged again since."""
        if not item_ids:
            return 0
        stmt = (
            update(_ITEMS)
            .where(_ITEMS.c.id.in_(list(item_ids)), *_finished_and_unpruned())
            .values(checkpoints_pruned_at=utcnow())
        )
        return int(await self.db.write(lambda conn: conn.execute(stmt).rowcount))
