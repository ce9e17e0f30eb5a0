"""CommandSyncRepository on SQLite and PostgreSQL: the last registered command hash per scope."""

from __future__ import annotations

from storage.command_sync import CommandSyncRepository
from storage.db import Database


async def test_record_then_read_by_application(database: Database) -> None:
    repo = CommandSyncRepository(database)
    assert await repo.hashes(prefix="42:") == {}
    await repo.record(scope="42:guild:7", payload_hash="a" * 64, commands=5)
    await repo.record(scope="42:global", payload_hash="b" * 64, commands=0)
    await repo.record(scope="43:global", payload_hash="c" * 64, commands=1)
    await repo.record(scope="42:guild:7", payload_hash="d" * 64, commands=6)
    assert await repo.hashes(prefix="42:") == {"42:guild:7": "d" * 64, "42:global": "b" * 64}
    assert await repo.hashes(prefix="43:") == {"43:global": "c" * 64}
