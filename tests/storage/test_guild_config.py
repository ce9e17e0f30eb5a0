"""GuildConfigRepository: merge, removal and audit on both backends."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.guild_config import GuildConfigRepository
from storage.models import AuditEvent


async def test_update_merges_and_removes(database: Database) -> None:
    repo = GuildConfigRepository(database)
    assert await repo.get(1) == {}
    await repo.update(guild_id=1, changes={"review_channel_id": 5, "repo": "o/r"}, actor="ana")
    after = await repo.update(guild_id=1, changes={"repo": None, "emoji": "🐛"}, actor="ana")
    assert after == {"review_channel_id": 5, "emoji": "🐛"}
    assert await repo.get(1) == after
    async with database.sessions() as session:
        events = (await session.execute(select(AuditEvent))).scalars().all()
    assert [e.action for e in events] == ["config", "config"]
    assert all(e.actor == "ana" for e in events)
