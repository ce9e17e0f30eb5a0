"""Items whose timers are due, found by query rather than held as one timer per item.

A deadline is a delay counted from one of the item's timestamps while the item is in given
statuses (a review reminder: a day after the item started waiting, unless it was already
sent). The scheduler asks which deadlines fell within a window and when the next one falls;
it keeps nothing per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, select
from sqlmodel import col

from storage.db import Database
from storage.models import FeedbackItem, ItemStatus


@dataclass(frozen=True)
class Deadline:
    """`delay` after the item's `clock` column, while its status is one of `statuses`.

    `unless_set` names a column that, once set, means the deadline was already served.
    """

    name: str
    statuses: tuple[ItemStatus, ...]
    clock: str
    delay: timedelta
    unless_set: str | None = None

    def _where(self, stmt: Any) -> Any:
        stmt = stmt.where(col(FeedbackItem.status).in_([str(s) for s in self.statuses]))
        if self.unless_set is not None:
            stmt = stmt.where(col(getattr(FeedbackItem, self.unless_set)).is_(None))
        return stmt

    def falls_at(self, item: FeedbackItem) -> datetime | None:
        """When this deadline falls for `item`, or None if it does not apply to it."""
        if item.status not in self.statuses:
            return None
        if self.unless_set is not None and getattr(item, self.unless_set) is not None:
            return None
        start = cast(datetime | None, getattr(item, self.clock))
        return None if start is None else start + self.delay


class DeadlineRepository:
    """Queries over `Deadline`s; reads only."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def due(
        self,
        deadline: Deadline,
        *,
        since: datetime | None,
        until: datetime,
        after_id: int = 0,
        limit: int = 100,
    ) -> Sequence[tuple[int, int | None]]:
        """(id, guild id) of items whose deadline fell in (`since`, `until`], by id.

        `since=None` means any time up to `until`; page with `after_id`.
        """
        clock = col(getattr(FeedbackItem, deadline.clock))
        stmt = deadline._where(select(col(FeedbackItem.id), col(FeedbackItem.guild_id)))
        stmt = stmt.where(clock <= until - deadline.delay, col(FeedbackItem.id) > after_id)
        if since is not None:
            stmt = stmt.where(clock > since - deadline.delay)
        stmt = stmt.order_by(col(FeedbackItem.id)).limit(limit)
        async with self.db.sessions() as session:
            rows = await session.execute(stmt)
            return [(cast(int, item_id), guild_id) for item_id, guild_id in rows]

    async def next_after(self, deadline: Deadline, moment: datetime) -> datetime | None:
        """The earliest time after `moment` at which `deadline` falls for some item."""
        clock = col(getattr(FeedbackItem, deadline.clock))
        stmt = deadline._where(select(func.min(clock))).where(clock > moment - deadline.delay)
        async with self.db.sessions() as session:
            earliest = (await session.execute(stmt)).scalar_one_or_none()
        return None if earliest is None else cast(datetime, earliest) + deadline.delay
