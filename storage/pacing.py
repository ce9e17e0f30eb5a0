"""The triage starts the per-user rate limit needs to know after a restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select

from storage.db import Database
from storage.models import FeedbackItem, ItemStatus, SourceKind

_ITEMS = FeedbackItem.__table__  # type: ignore[attr-defined]
#: Intake the per-user limit applies to (maintainers' requests are not limited).
LIMITED_SOURCES = (SourceKind.CHANNEL, SourceKind.SLASH)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PacedItem:
    """A rate-limited item: when its triage started, or is planned to."""

    item_id: int
    guild_id: int | None
    author_id: int
    start: datetime
    waiting: bool
    """Its triage has not started: `start` is when it may (deferred, or received then)."""


class PacingRepository:
    """Reads the starts and deferred starts of rate-limited items."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def since(self, moment: datetime) -> list[PacedItem]:
        """Items received since `moment`, and every item whose triage has not started,
        ordered by start time."""
        waiting = _ITEMS.c.status == ItemStatus.RECEIVED
        stmt = select(
            _ITEMS.c.id,
            _ITEMS.c.guild_id,
            _ITEMS.c.author_id,
            _ITEMS.c.created_at,
            _ITEMS.c.triage_after,
            waiting.label("waiting"),
        ).where(
            _ITEMS.c.author_id.is_not(None),
            _ITEMS.c.triage_requested_by.is_(None),
            _ITEMS.c.source_kind.in_([str(k) for k in LIMITED_SOURCES]),
            or_(_ITEMS.c.created_at >= moment, waiting),
        )
        rows = await self.db.read(lambda conn: conn.execute(stmt).all())
        items = [
            PacedItem(
                item_id=int(row.id),
                guild_id=row.guild_id,
                author_id=int(row.author_id),
                start=_aware(row.triage_after or row.created_at),
                waiting=bool(row.waiting),
            )
            for row in rows
        ]
        return sorted(items, key=lambda item: (item.start, item.item_id))
