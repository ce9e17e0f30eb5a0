"""What a reporter adds in the details thread after answering, kept on the undecided item."""

from __future__ import annotations

from sqlalchemy import case, func, update

from storage.db import Database
from storage.models import FeedbackItem, ItemStatus, utcnow

_ITEMS = FeedbackItem.__table__  # type: ignore[attr-defined]

#: Most characters kept from everything a reporter adds to one item.
MORE_LIMIT = 4000
#: Statuses in which an item still takes additions (nothing is decided yet).
TAKES_MORE = frozenset({ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW})
SEPARATOR = "\n\n"


class ReporterNotes:
    """Appends the reporter's later replies to `FeedbackItem.reporter_more`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(self, *, item_id: int, text: str) -> FeedbackItem | None:
        """Add `text` to the item while it is undecided and the total fits `MORE_LIMIT`.

        One conditional update, so concurrent replies never overwrite each other.

        Returns:
            The updated item, or None when it is decided, gone, or has no room left.
        """
        column = _ITEMS.c.reporter_more
        stmt = (
            update(_ITEMS)
            .where(
                _ITEMS.c.id == item_id,
                _ITEMS.c.status.in_([str(s) for s in TAKES_MORE]),
                func.coalesce(func.length(column) + len(SEPARATOR), 0) + len(text) <= MORE_LIMIT,
            )
            .values(
                reporter_more=case((column.is_(None), text), else_=column + SEPARATOR + text),
                updated_at=utcnow(),
            )
            .returning(*_ITEMS.c)
        )
        row = await self.db.write(lambda conn: conn.execute(stmt).one_or_none())
        return None if row is None else FeedbackItem(**row._mapping)
