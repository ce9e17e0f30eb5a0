"""Repository for guilds that removed the bot: when they left, so their data can go later."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from storage.db import Database
from storage.forgetting import DataSubject
from storage.models import GuildDeparture, utcnow


class GuildDepartureRepository:
    """Remember departures; a guild that adds the bot again before the deadline keeps its data."""

    name = "departures"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def left(self, guild_id: int) -> None:
        """The bot was removed from the guild now (an earlier departure time is kept)."""
        dialect = postgresql if self.db.backend == "postgresql" else sqlite
        stmt = (
            dialect.insert(GuildDeparture)
            .values(guild_id=guild_id, left_at=utcnow())
            .on_conflict_do_nothing(index_elements=["guild_id"])
        )
        async with self.db.transaction() as session:
            await session.execute(stmt)

    async def returned(self, guild_id: int) -> bool:
        """The bot is in the guild again; True if a departure was pending."""
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(GuildDeparture).where(col(GuildDeparture.guild_id) == guild_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def left_before(self, cutoff: datetime) -> list[int]:
        """Guilds that left before `cutoff`, longest gone first."""
        async with self.db.sessions() as session:
            stmt = (
                select(col(GuildDeparture.guild_id))
                .where(col(GuildDeparture.left_at) < cutoff)
                .order_by(col(GuildDeparture.left_at))
            )
            return [int(g) for g in (await session.execute(stmt)).scalars()]

    async def forget(self, subject: DataSubject) -> int:
        """The departure record of a guild whose data is gone."""
        if subject.guild_id is None:
            return 0
        return int(await self.returned(subject.guild_id))
