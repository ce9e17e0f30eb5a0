"""SyncStateRepository on SQLite and PostgreSQL: the sync's high-water mark per repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.sync_state import SyncStateRepository


async def test_save_then_get_round_trips_an_aware_mark(database: Database) -> None:
    repo = SyncStateRepository(database)
    assert await repo.get(repo="Acme/Widgets") is None
    mark = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    await repo.save(repo="Acme/Widgets", since=mark, issues_seen=42)
    stored = await repo.get(repo="acme/widgets")
    assert stored is not None
    assert (stored.repo, stored.since, stored.issues_seen) == ("acme/widgets", mark, 42)
    assert stored.since is not None and stored.since.utcoffset() == timedelta(0)
    assert stored.last_run_at is not None and stored.last_run_at.tzinfo is not None


async def test_save_replaces_the_previous_run(database: Database) -> None:
    repo = SyncStateRepository(database)
    first = datetime(2024, 1, 1, tzinfo=UTC)
    await repo.save(repo="acme/widgets", since=first, issues_seen=10)
    await repo.save(repo="acme/other", since=None, issues_seen=0)
    await repo.save(repo="acme/widgets", since=first + timedelta(days=2), issues_seen=3)
    rows = await repo.list_all()
    assert [(r.repo, r.since, r.issues_seen) for r in rows] == [
        ("acme/other", None, 0),
        ("acme/widgets", first + timedelta(days=2), 3),
    ]
