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


async def test_refusals_and_changes_form_each_guilds_history(database: Database) -> None:
    repo = GuildConfigRepository(database)
    await repo.update(guild_id=1, changes={"repo": "o/r"}, actor="ana (1)")
    await repo.record_refusal(
        guild_id=1, key="maintainer_role_ids", value="1", actor="bo (2)", reason="@everyone"
    )
    await repo.record_refusal(guild_id=2, key="repo", value="x/y", actor="cy (3)", reason="no")
    assert await repo.get(1) == {"repo": "o/r"}
    history = await repo.history(1)
    assert [(e.action, e.actor) for e in history] == [
        ("config_refused", "bo (2)"),
        ("config", "ana (1)"),
    ]
    assert history[0].details == {
        "guild_id": 1,
        "key": "maintainer_role_ids",
        "value": "1",
        "reason": "@everyone",
    }
    assert [e.details["key"] for e in await repo.history(2)] == ["repo"]  # type: ignore[index]
    assert await repo.history(3) == []
