"""Queries behind the periodic digest: what came in, what was decided, what still waits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
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
#: Characters of each item's text a theme candidate carries.
CANDIDATE_TEXT_CHARS = 500


@dataclass(frozen=True, slots=True)
class ThemeCandidate:
    """An item that may belong to a recurring theme: its id, index and opening text."""

    item_id: int
    repo: str | None
    text: str


def _in_period(guild_id: int, since: datetime, until: datetime) -> list[Any]:
    return [
        col(FeedbackItem.guild_id) == guild_id,
        col(FeedbackItem.created_at) >= since,
        col(FeedbackItem.created_at) < until,
    ]


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

    async def count_created(self, guild_id: int, since: datetime, until: datetime) -> int:
        """How many items the guild received in [since, until)."""
        stmt = (
            select(func.count())
            .select_from(FeedbackItem)
            .where(*_in_period(guild_id, since, until))
        )
        async with self.db.sessions() as session:
            return int((await session.execute(stmt)).scalar_one())

    async def kind_counts(self, guild_id: int, since: datetime, until: datetime) -> dict[str, int]:
        """Items received in [since, until) per kind, most first (`untriaged`: no kind yet)."""
        kind = func.coalesce(col(FeedbackItem.kind), "untriaged")
        stmt = select(kind, func.count()).where(*_in_period(guild_id, since, until)).group_by(kind)
        return await self._ranked(stmt)

    async def severity_counts(
        self, guild_id: int, since: datetime, until: datetime
    ) -> dict[str, int]:
        """Actionable items received in [since, until) per severity, most first."""
        severity = col(FeedbackItem.severity)
        stmt = (
            select(severity, func.count())
            .where(
                *_in_period(guild_id, since, until),
                severity.is_not(None),
                severity != "",
                col(FeedbackItem.actionable).is_(True),
            )
            .group_by(severity)
        )
        return await self._ranked(stmt)

    async def _ranked(self, stmt: Any) -> dict[str, int]:
        async with self.db.sessions() as session:
            rows = (await session.execute(stmt)).all()
        ranked = sorted(((str(key), int(count)) for key, count in rows), key=lambda r: -r[1])
        return dict(ranked)

    async def theme_candidates(
        self, guild_id: int, since: datetime, until: datetime, *, limit: int
    ) -> list[ThemeCandidate]:
        """The newest `limit` actionable items of [since, until), oldest first, text cut short."""
        stmt = (
            select(
                col(FeedbackItem.id),
                col(FeedbackItem.repo),
                func.substr(col(FeedbackItem.raw_text), 1, CANDIDATE_TEXT_CHARS),
            )
            .where(
                *_in_period(guild_id, since, until),
                col(FeedbackItem.status) != ItemStatus.NOT_ACTIONABLE,
                or_(col(FeedbackItem.actionable).is_(None), col(FeedbackItem.actionable).is_(True)),
            )
            .order_by(col(FeedbackItem.id).desc())
            .limit(limit)
        )
        async with self.db.sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [ThemeCandidate(int(i), repo, text or "") for i, repo, text in reversed(rows)]

    async def items(self, ids: Sequence[int]) -> list[FeedbackItem]:
        """The items with these ids, in the order given (missing ones left out)."""
        if not ids:
            return []
        async with self.db.sessions() as session:
            stmt = select(FeedbackItem).where(col(FeedbackItem.id).in_(list(ids)))
            found = {item.id: item for item in (await session.execute(stmt)).scalars()}
        return [found[i] for i in ids if i in found]

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
