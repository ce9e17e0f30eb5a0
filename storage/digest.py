"""Queries behind the periodic digest: what came in, what was decided, what still waits."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import func, insert, select
from sqlmodel import col

from storage.db import Database
from storage.models import AuditEvent, FeedbackItem, ItemStatus, utcnow

log = logging.getLogger(__name__)

#: Outcomes a digest counts, by the status an item moved to.
OUTCOME_STATUSES: tuple[ItemStatus, ...] = (
    ItemStatus.FILED,
    ItemStatus.REJECTED,
    ItemStatus.DUPLICATE,
    ItemStatus.NOT_ACTIONABLE,
)
_POSTED = "digest_posted"


class DigestRepository:
    """Read-only questions about one guild's items over a period, plus the digest log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def items_created(
        self, guild_id: int, since: datetime, until: datetime
    ) -> list[FeedbackItem]:
        """The guild's items received in [since, until), oldest first."""
        async with self.db.sessions() as session:
            stmt = (
                select(FeedbackItem)
                .where(
                    col(FeedbackItem.guild_id) == guild_id,
                    col(FeedbackItem.created_at) >= since,
                    col(FeedbackItem.created_at) < until,
                )
                .order_by(col(FeedbackItem.id))
            )
            return list((await session.execute(stmt)).scalars())

    async def outcomes(self, guild_id: int, since: datetime, until: datetime) -> dict[str, int]:
        """How many of the guild's items reached each outcome status in [since, until)."""
        async with self.db.sessions() as session:
            stmt = (
                select(
                    col(AuditEvent.to_status), func.count(func.distinct(col(AuditEvent.item_id)))
                )
                .join(FeedbackItem, col(FeedbackItem.id) == col(AuditEvent.item_id))
                .where(
                    col(FeedbackItem.guild_id) == guild_id,
                    col(AuditEvent.at) >= since,
                    col(AuditEvent.at) < until,
                    col(AuditEvent.to_status).in_([str(s) for s in OUTCOME_STATUSES]),
                )
                .group_by(col(AuditEvent.to_status))
            )
            rows = (await session.execute(stmt)).all()
        counts = {str(status): 0 for status in OUTCOME_STATUSES}
        counts.update({str(status): int(count) for status, count in rows})
        return counts

    async def oldest_waiting(self, guild_id: int, *, limit: int = 5) -> list[FeedbackItem]:
        """The guild's items awaiting review the longest, oldest first."""
        async with self.db.sessions() as session:
            stmt = (
                select(FeedbackItem)
                .where(
                    col(FeedbackItem.guild_id) == guild_id,
                    col(FeedbackItem.status) == ItemStatus.AWAITING_REVIEW,
                )
                .order_by(col(FeedbackItem.updated_at), col(FeedbackItem.id))
                .limit(limit)
            )
            return list((await session.execute(stmt)).scalars())

    async def last_posted(self, guild_id: int) -> datetime | None:
        """When the guild's latest digest was posted (or its schedule began), if ever."""
        async with self.db.sessions() as session:
            stmt = select(func.max(col(AuditEvent.at))).where(
                col(AuditEvent.item_id).is_(None),
                col(AuditEvent.action) == f"{_POSTED}:{guild_id}",
            )
            moment = (await session.execute(stmt)).scalar_one_or_none()
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment

    async def record_posted(
        self, guild_id: int, *, actor: str, details: dict[str, object] | None = None
    ) -> None:
        """Remember that a digest was posted (or that the schedule started) now."""
        async with self.db.transaction() as session:
            await session.execute(
                insert(AuditEvent).values(
                    item_id=None,
                    at=utcnow(),
                    actor=actor,
                    action=f"{_POSTED}:{guild_id}",
                    details=details,
                )
            )
