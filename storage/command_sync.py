"""Repository for the hash of the slash commands last registered, one row per scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from storage.db import Database
from storage.models import CommandSync, utcnow


class CommandSyncRepository:
    """Which command definitions each scope (`<application>:guild:<id>`, `…:global`) has."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self) -> Any:
        dialect = postgresql if self.db.backend == "postgresql" else sqlite
        return dialect.insert(CommandSync)

    async def hashes(self, *, prefix: str) -> dict[str, str]:
        """Scope -> payload hash of every scope whose name starts with `prefix`."""
        async with self.db.sessions() as session:
            stmt = select(col(CommandSync.scope), col(CommandSync.payload_hash)).where(
                col(CommandSync.scope).startswith(prefix)
            )
            return {scope: digest for scope, digest in (await session.execute(stmt)).all()}

    async def record(self, *, scope: str, payload_hash: str, commands: int) -> None:
        """Remember that `scope` now has the commands whose payload hashes to `payload_hash`."""
        stmt = self._insert().values(
            scope=scope, payload_hash=payload_hash, commands=commands, synced_at=utcnow()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["scope"],
            set_={key: stmt.excluded[key] for key in ("payload_hash", "commands", "synced_at")},
        )
        async with self.db.transaction() as session:
            await session.execute(stmt)
