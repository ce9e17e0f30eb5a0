"""The reaction path finds an item by its review message with one query on an index."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from storage.db import Database
from storage.items import ItemRepository
from storage.models import FeedbackItemBase

INDEX = "ix_feedback_items_review_message_id"


def _base(n: int) -> FeedbackItemBase:
    return FeedbackItemBase(
        source_kind="channel", source_key=f"message:{n}", guild_id=1, raw_text=f"report {n}"
    )


def _engines(db: Database) -> list[Engine]:
    threads = getattr(db, "_threads", None)
    return [db.engine.sync_engine] + ([threads.engine] if threads is not None else [])


@contextmanager
def _statements(db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every SQL statement sent to the database inside the block, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        seen.append((statement, parameters))

    engines = _engines(db)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def _plan(db: Database, statement: str, parameters: Any) -> str:
    if db.backend == "sqlite":
        explain = "EXPLAIN QUERY PLAN " + statement
        rows = await db.read(lambda conn: conn.exec_driver_sql(explain, parameters).all())
        return " ".join(str(row[-1]) for row in rows)
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("SET enable_seqscan = off")
        rows = (await conn.exec_driver_sql("EXPLAIN " + statement, parameters)).all()
    return " ".join(str(row[0]) for row in rows)


async def test_the_item_of_a_review_message_is_one_indexed_query(database: Database) -> None:
    repo = ItemRepository(database)
    ids = []
    for n in range(1, 41):
        item, _ = await repo.create(item=_base(n), actor="t")
        assert item.id is not None
        await repo.update_fields(item_id=item.id, review_channel_id=5, review_message_id=1000 + n)
        ids.append(item.id)

    with _statements(database) as seen:
        found = await repo.by_review_message(1017)
    assert found is not None and found.id == ids[16]
    assert len(seen) == 1, seen
    statement, parameters = seen[0]
    assert "review_message_id" in statement
    assert INDEX in await _plan(database, statement, parameters)

    assert await repo.by_review_message(999) is None
    assert await repo.by_review_message(2**70) is None
