"""Repository for maintainer corrections kept as labelled examples (the `examples` table)."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, delete, func, insert, select
from sqlmodel import col

from storage.db import Database
from storage.forgetting import DataSubject, chunks
from storage.models import Example, utcnow

log = logging.getLogger(__name__)


class ExampleRepository:
    """Append and read the labelled examples of each guild."""

    name = "corrections"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget(self, subject: DataSubject) -> int:
        """Delete the examples made from the subject's items (a departed guild's: all)."""
        table = Example.__table__  # type: ignore[attr-defined]

        def work(conn: Connection) -> int:
            removed = 0
            for chunk in chunks(subject.item_ids):
                removed += conn.execute(delete(table).where(table.c.item_id.in_(chunk))).rowcount
            if subject.guild_id is not None:
                stmt = delete(table).where(table.c.guild_id == subject.guild_id)
                removed += conn.execute(stmt).rowcount
            return removed

        return await self.db.write(work)

    async def add(
        self,
        *,
        guild_id: int | None,
        item_id: int | None,
        text: str,
        kind: str | None,
        severity: str | None,
        title: str | None,
        labels: list[str],
        rejected: bool,
    ) -> int:
        """Store one example; returns its id.

        Args:
            guild_id: Guild whose maintainers made the correction.
            item_id: The corrected feedback item.
            text: The feedback text the example is about.
            kind: The kind the maintainer confirmed or chose.
            severity: The severity the maintainer confirmed or chose.
            title: The issue title after the correction.
            labels: The labels after the correction.
            rejected: True when the maintainer rejected the item.
        """
        async with self.db.transaction() as session:
            result = await session.execute(
                insert(Example)
                .values(
                    guild_id=guild_id,
                    item_id=item_id,
                    text=text,
                    kind=kind,
                    severity=severity,
                    title=(title or None) and title[:256],
                    labels=list(labels),
                    rejected=rejected,
                    created_at=utcnow(),
                )
                .returning(col(Example.id))
            )
            new_id = result.scalar_one()
            assert new_id is not None
            return new_id

    async def for_guild(self, guild_id: int | None, *, after_id: int = 0) -> list[Example]:
        """The guild's examples with an id above `after_id`, oldest first."""
        async with self.db.sessions() as session:
            stmt = (
                select(Example)
                .where(col(Example.guild_id) == guild_id, col(Example.id) > after_id)
                .order_by(col(Example.id))
            )
            return list((await session.execute(stmt)).scalars())

    async def latest_id(self, guild_id: int | None) -> int:
        """The highest example id of the guild (0 when it has none)."""
        async with self.db.sessions() as session:
            stmt = select(func.max(col(Example.id))).where(col(Example.guild_id) == guild_id)
            return int((await session.execute(stmt)).scalar_one() or 0)

    async def for_item(self, item_id: int) -> list[Example]:
        """Examples recorded for one item, oldest first."""
        async with self.db.sessions() as session:
            stmt = select(Example).where(col(Example.item_id) == item_id).order_by(col(Example.id))
            return list((await session.execute(stmt)).scalars())
