"""Repository for the GitHub issue sync's high-water mark, one row per repository."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.models import SyncState, utcnow


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; they were stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _detached(row: SyncState) -> SyncState:
    return SyncState(
        repo=row.repo,
        since=_aware(row.since),
        last_run_at=_aware(row.last_run_at),
        issues_seen=row.issues_seen,
        reconciled_at=_aware(row.reconciled_at),
    )


class SyncStateRepository:
    """Read and move the sync's high-water mark; repository names are kept lower-case."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self) -> Any:
        dialect = postgresql if self.db.backend == "postgresql" else sqlite
        return dialect.insert(SyncState)

    async def get(self, *, repo: str) -> SyncState | None:
        """The stored state of `repo` (owner/name), or None before its first sync."""
        async with self.db.sessions() as session:
            row = await session.get(SyncState, repo.lower(), populate_existing=True)
            return _detached(row) if row is not None else None

    async def save(self, *, repo: str, since: datetime | None, issues_seen: int) -> SyncState:
        """Record a finished sync: the new high-water mark and how many issues it fetched."""
        row = SyncState(
            repo=repo.lower(), since=since, last_run_at=utcnow(), issues_seen=issues_seen
        )
        stmt = self._insert().values(
            repo=row.repo, since=row.since, last_run_at=row.last_run_at, issues_seen=row.issues_seen
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["repo"],
            set_={key: stmt.excluded[key] for key in ("since", "last_run_at", "issues_seen")},
        )
        async with self.db.transaction() as session:
            await session.execute(stmt)
        return row

    async def mark_reconciled(self, *, repo: str) -> None:
        """Record that the indexed issues of `repo` were compared with GitHub's just now."""
        now = utcnow()
        stmt = self._insert().values(repo=repo.lower(), reconciled_at=now, issues_seen=0)
        stmt = stmt.on_conflict_do_update(index_elements=["repo"], set_={"reconciled_at": now})
        async with self.db.transaction() as session:
            await session.execute(stmt)

    async def list_all(self) -> list[SyncState]:
        """Every repository's state, by name."""
        async with self.db.sessions() as session:
            rows = (await session.execute(select(SyncState).order_by(SyncState.repo))).scalars()
            return [_detached(row) for row in rows]
