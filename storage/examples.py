"""Repository for maintainer corrections kept as labelled examples (the `examples` table)."""

from __future__ import annotations

import logging
from typing import TypedDict, Unpack

from sqlalchemy import Connection, delete, func, insert, select
from sqlmodel import col

from storage.db import Database
from storage.forgetting import DataSubject, chunks
from storage.models import Example, utcnow

log = logging.getLogger(__name__)


class ExampleFields(TypedDict):
    """One maintainer correction, as stored in an example."""

    guild_id: int | None
    """Guild whose maintainers made the correction."""
    item_id: int | None
    """The corrected feedback item."""
    text: str
    """The feedback text the example is about."""
    kind: str | None
    """The kind the maintainer confirmed or chose."""
    severity: str | None
    """The severity the maintainer confirmed or chose."""
    title: str | None
    """The issue title after the correction."""
    labels: list[str]
    """The labels after the correction."""
    rejected: bool
    """True when the maintainer rejected the item."""


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

    async def add(self, **example: Unpack[ExampleFields]) -> int:
        """Store one example (its fields: `ExampleFields`); returns its id."""
        title = example["title"]
        async with self.db.transaction() as session:
            result = await session.execute(
                insert(Example)
                .values(
                    {
                        **example,
                        "title": (title or None) and title[:256],
                        "labels": list(example["labels"]),
                        "created_at": utcnow(),
                    }
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
