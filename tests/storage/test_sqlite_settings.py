"""Every SQLite connection the bot opens keeps a small page cache (several are open)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from agents.triage.checkpoint import open_checkpointer
from storage.db import SQLITE_CACHE_KIB, Database

SMALL_CACHE = -SQLITE_CACHE_KIB  # negative: KiB, not pages


async def test_the_databases_connections_keep_a_small_page_cache(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'items.sqlite3'}")
    try:
        async with db.sessions() as session:
            assert (await session.execute(text("PRAGMA cache_size"))).scalar() == SMALL_CACHE
        read = await db.read(lambda conn: conn.execute(text("PRAGMA cache_size")).scalar())
        assert read == SMALL_CACHE
    finally:
        await db.close()


async def test_the_checkpoints_connection_keeps_a_small_page_cache(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'items.sqlite3'}"
    async with open_checkpointer(database_url=url, data_dir=tmp_path) as saver:
        size = await saver._call(lambda: saver.conn.execute("PRAGMA cache_size").fetchone()[0])  # type: ignore[attr-defined]
        assert size == SMALL_CACHE
