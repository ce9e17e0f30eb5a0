"""Repository for per-guild configuration overrides set with /config."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

from storage.db import Database
from storage.forgetting import DataSubject
from storage.models import AuditEvent, GuildConfig, utcnow


class GuildConfigRepository:
    """Read and change the stored overrides of one guild; every change is audited."""

    name = "server settings"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget(self, subject: DataSubject) -> int:
        """A departed guild's settings go; a forgotten person no longer shows as their editor."""
        changed = 0
        async with self.db.transaction() as session:
            if subject.guild_id is not None:
                result = await session.execute(
                    delete(GuildConfig).where(GuildConfig.guild_id == subject.guild_id)  # type: ignore[arg-type]
                )
                changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
            if subject.names:
                result = await session.execute(
                    update(GuildConfig)
                    .where(GuildConfig.updated_by.in_(sorted(subject.names)))  # type: ignore[union-attr]
                    .values(updated_by=None)
                )
                changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return changed

    async def get(self, guild_id: int) -> dict[str, Any]:
        """The guild's stored overrides (empty when none)."""
        async with self.db.sessions() as session:
            row = await session.get(GuildConfig, guild_id, populate_existing=True)
            return dict(row.values) if row else {}

    async def update(self, *, guild_id: int, changes: dict[str, Any], actor: str) -> dict[str, Any]:
        """Merge `changes` into the overrides (a value of None removes the key)."""
        async with self.db.transaction() as session:
            row = await session.get(GuildConfig, guild_id, with_for_update=True)
            before = dict(row.values) if row else {}
            after = {**before, **changes}
            after = {key: value for key, value in after.items() if value is not None}
            if row is None:
                await session.execute(
                    insert(GuildConfig).values(
                        guild_id=guild_id, values=after, updated_at=utcnow(), updated_by=actor
                    )
                )
            else:
                await session.execute(
                    update(GuildConfig)
                    .where(GuildConfig.guild_id == guild_id)
                    .values(values=after, updated_at=utcnow(), updated_by=actor)
                )
            await session.execute(
                insert(AuditEvent).values(
                    item_id=None,
                    at=utcnow(),
                    actor=actor,
                    action="config",
                    details={"guild_id": guild_id, "changes": changes},
                )
            )
        return after

    async def all(self) -> dict[int, dict[str, Any]]:
        """Every guild's overrides."""
        async with self.db.sessions() as session:
            rows = (await session.execute(select(GuildConfig))).scalars()
            return {row.guild_id: dict(row.values) for row in rows}
