"""Repository for per-guild configuration overrides set with /config, and their audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlmodel import col

from storage.db import Database
from storage.forgetting import DataSubject
from storage.models import AuditEvent, GuildConfig, utcnow

#: Audit actions: a stored change, and an attempt that was refused (with its reason).
CHANGED, REFUSED = "config", "config_refused"
#: Audit rows scanned when listing one guild's configuration history.
_HISTORY_SCAN = 500


def _audit(actor: str, action: str, details: dict[str, Any]) -> Any:
    """An audit row about a guild's configuration (no item)."""
    return insert(AuditEvent).values(
        item_id=None, at=utcnow(), actor=actor, action=action, details=details
    )


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
                _audit(actor, CHANGED, {"guild_id": guild_id, "changes": changes})
            )
        return after

    async def all(self) -> dict[int, dict[str, Any]]:
        """Every guild's overrides."""
        async with self.db.sessions() as session:
            rows = (await session.execute(select(GuildConfig))).scalars()
            return {row.guild_id: dict(row.values) for row in rows}

    async def record_refusal(
        self, *, guild_id: int, key: str, value: str, actor: str, reason: str
    ) -> None:
        """Audit an attempted change that was refused (nothing else is written)."""
        details = {"guild_id": guild_id, "key": key, "value": value, "reason": reason}
        async with self.db.transaction() as session:
            await session.execute(_audit(actor, REFUSED, details))

    async def history(self, guild_id: int, *, limit: int = 50) -> list[AuditEvent]:
        """The guild's latest configuration changes and refused attempts, newest first."""
        async with self.db.sessions() as session:
            stmt = (
                select(AuditEvent)
                .where(
                    col(AuditEvent.item_id).is_(None),
                    col(AuditEvent.action).in_([CHANGED, REFUSED]),
                )
                .order_by(col(AuditEvent.id).desc())
                .limit(_HISTORY_SCAN)
            )
            rows = (await session.execute(stmt)).scalars()
            mine = [r for r in rows if (r.details or {}).get("guild_id") == guild_id]
        return mine[:limit]
