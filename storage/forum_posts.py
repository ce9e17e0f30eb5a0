"""Repository for what forum posts add to items: replies kept as context before the review."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, update

from storage.db import Database
from storage.models import FeedbackItem, ItemStatus, utcnow

_ITEMS = FeedbackItem.__table__  # type: ignore[attr-defined]


class ForumPostRepository:
    """Adds replies to an item's context while its review message is not posted yet."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_context(
        self, *, item_id: int, line: str, statuses: Iterable[ItemStatus], limit: int
    ) -> bool:
        """Append `line` to the item's context in one conditional update.

        Args:
            item_id: The item.
            line: The reply as one line of context.
            statuses: Statuses in which the item still takes context.
            limit: The most characters of context an item keeps.

        Returns:
            True when added; False once the review is posted, the item moved on, or the
            context is full.
        """
        current = func.coalesce(_ITEMS.c.context, "")
        stmt = (
            update(_ITEMS)
            .where(
                _ITEMS.c.id == item_id,
                _ITEMS.c.review_message_id.is_(None),
                _ITEMS.c.content_removed_at.is_(None),
                _ITEMS.c.status.in_([str(s) for s in statuses]),
                func.length(current) + len(line) <= limit,
            )
            .values(context=current + line, updated_at=utcnow())
        )
        return bool(await self.db.write(lambda conn: conn.execute(stmt).rowcount))
