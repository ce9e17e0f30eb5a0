"""Status transitions per second under concurrent writers, on SQLite and PostgreSQL.

Two runs per backend, each on a fresh database, moving `--items` items along received ->
triaging -> awaiting_review -> approved -> filing -> filed with `ItemRepository.transition`
(read, conditional UPDATE, audit row in the same transaction):

- race: `--writers` tasks each try every item at every step, so each move has `writers`
  contenders and exactly one may win. The audit trail is then checked: one transition row
  per item and step, none lost, none doubled, every item `filed`.
- split: `--writers` tasks each move their own share of the items (no contention): the
  throughput the bot gets when many items move at once.

The reference for the split run, measured in the same run on a fresh database of the same
backend, is the same writes through the raw driver (sqlite3 / asyncpg, `writers`
connections for PostgreSQL, one for SQLite, which has a single writer anyway): one
transaction with the conditional UPDATE and the audit INSERT per move, no ORM.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from benchmarks._common import machine_line, verdict
from storage.db import Database, upgrade
from storage.items import ItemRepository
from storage.models import AuditEvent, FeedbackItemBase, ItemStatus

S = ItemStatus
PATH = [S.RECEIVED, S.TRIAGING, S.AWAITING_REVIEW, S.APPROVED, S.FILING, S.FILED]
PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


async def _seed(items: ItemRepository, count: int) -> list[int]:
    ids = []
    for n in range(count):
        item, _ = await items.create(
            item=FeedbackItemBase(
                source_kind="channel", source_key=f"message:{n}", raw_text=f"report {n}"
            ),
            actor="bench",
        )
        assert item.id is not None
        ids.append(item.id)
    return ids


async def race(url: str, *, items: int, writers: int) -> tuple[float, int, int, list[str]]:
    """Run the race; returns (seconds, successful CAS, attempts, problems found)."""
    await upgrade(url)
    db = Database(url, pool_size=writers)
    repo = ItemRepository(db)
    ids = await _seed(repo, items)
    wins: dict[tuple[int, str], int] = {}
    attempts = 0

    async def writer(seed: int) -> None:
        nonlocal attempts
        rng = random.Random(seed)
        for source, target in itertools.pairwise(PATH):
            order = list(ids)
            rng.shuffle(order)
            for item_id in order:
                attempts += 1
                moved = await repo.transition(
                    item_id=item_id, to=target, actor=f"w{seed}", expected=[source]
                )
                if moved is not None:
                    wins[(item_id, target.value)] = wins.get((item_id, target.value), 0) + 1
            await asyncio.sleep(0)

    began = time.perf_counter()
    await asyncio.gather(*(writer(seed) for seed in range(writers)))
    seconds = time.perf_counter() - began
    problems = await _audit_problems(db, repo, ids, wins)
    await db.close()
    return seconds, sum(wins.values()), attempts, problems


async def split(url: str, *, items: int, writers: int) -> float:
    """Seconds for `writers` tasks each moving their own share of the items to `filed`."""
    await upgrade(url)
    db = Database(url, pool_size=writers)
    repo = ItemRepository(db)
    ids = await _seed(repo, items)
    chunks = [ids[n::writers] for n in range(writers)]

    async def writer(chunk: list[int]) -> None:
        for source, target in itertools.pairwise(PATH):
            for item_id in chunk:
                moved = await repo.transition(
                    item_id=item_id, to=target, actor="split", expected=[source]
                )
                assert moved is not None

    began = time.perf_counter()
    await asyncio.gather(*(writer(chunk) for chunk in chunks))
    seconds = time.perf_counter() - began
    await db.close()
    return seconds


async def _audit_problems(
    db: Database, repo: ItemRepository, ids: list[int], wins: dict[tuple[int, str], int]
) -> list[str]:
    from sqlalchemy import func, select

    problems = [f"item {i} moved to {to} {n} times" for (i, to), n in wins.items() if n != 1]
    expected = len(ids) * (len(PATH) - 1)
    if len(wins) != expected:
        problems.append(f"{expected - len(wins)} transitions lost")
    async with db.sessions() as session:
        stmt = (
            select(AuditEvent.item_id, AuditEvent.to_status, func.count())
            .where(AuditEvent.action == "transition")
            .group_by(AuditEvent.item_id, AuditEvent.to_status)
        )
        rows = (await session.execute(stmt)).all()
    audited = {(item_id, status): count for item_id, status, count in rows}
    if sum(audited.values()) != sum(wins.values()):
        problems.append(f"{sum(audited.values())} audit rows for {sum(wins.values())} CAS wins")
    problems += [f"audit: item {i} -> {s} x{n}" for (i, s), n in audited.items() if n != 1]
    finals = await repo.counts_by_status()
    if finals != {S.FILED.value: len(ids)}:
        problems.append(f"final statuses {finals}")
    return problems


async def raw_sqlite(path: Path, *, items: int) -> float:
    """Seconds for the winning writes alone through sqlite3 (WAL, synchronous=NORMAL)."""
    url = f"sqlite+aiosqlite:///{path}"
    await upgrade(url)
    db = Database(url)
    ids = await _seed(ItemRepository(db), items)
    await db.close()

    def write() -> float:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        began = time.perf_counter()
        for source, target in itertools.pairwise(PATH):
            for item_id in ids:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "UPDATE feedback_items SET status=?, updated_at=CURRENT_TIMESTAMP "
                    "WHERE id=? AND status=?",
                    (target.value, item_id, source.value),
                )
                conn.execute(
                    "INSERT INTO audit_events (item_id, at, actor, action, from_status, "
                    "to_status) VALUES (?, CURRENT_TIMESTAMP, 'raw', 'transition', ?, ?)",
                    (item_id, source.value, target.value),
                )
                conn.execute("COMMIT")
        seconds = time.perf_counter() - began
        conn.close()
        return seconds

    return await asyncio.to_thread(write)


async def raw_postgres(url: str, *, items: int, writers: int) -> float:
    """Seconds for the winning writes alone through asyncpg, `writers` connections."""
    import asyncpg

    await upgrade(url)
    db = Database(url)
    ids = await _seed(ItemRepository(db), items)
    await db.close()
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=writers, max_size=writers)
    chunks = [ids[n::writers] for n in range(writers)]

    async def write(chunk: list[int]) -> None:
        async with pool.acquire() as conn:
            for source, target in itertools.pairwise(PATH):
                for item_id in chunk:
                    async with conn.transaction():
                        await conn.execute(
                            "UPDATE feedback_items SET status=$1, updated_at=now() "
                            "WHERE id=$2 AND status=$3",
                            target.value,
                            item_id,
                            source.value,
                        )
                        await conn.execute(
                            "INSERT INTO audit_events (item_id, at, actor, action, from_status,"
                            " to_status) VALUES ($1, now(), 'raw', 'transition', $2, $3)",
                            item_id,
                            source.value,
                            target.value,
                        )

    began = time.perf_counter()
    await asyncio.gather(*(write(chunk) for chunk in chunks))
    seconds = time.perf_counter() - began
    await pool.close()
    return seconds


async def _pg_database() -> tuple[str, str]:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    name = f"iterateswarm_bench_{uuid.uuid4().hex[:10]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}", name


async def _drop_pg(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _report(
    backend: str,
    race_seconds: float,
    wins: int,
    attempts: int,
    *,
    split_seconds: float,
    raw: float,
) -> float:
    moves = wins
    rate, raw_rate = moves / split_seconds, moves / raw
    print(
        f"{backend:<10} race: {attempts / race_seconds:7.1f} CAS attempts/s, "
        f"{wins / race_seconds:6.1f} won/s ({wins} won of {attempts})"
    )
    print(
        f"{'':<10} split: {rate:7.1f} transitions/s; raw driver {raw_rate:7.1f}/s; "
        f"ratio {rate / raw_rate:.2f}"
    )
    return rate / raw_rate


async def run(items: int, writers: int, backends: Sequence[str]) -> int:
    """Race and reference on each backend; returns the exit status."""
    problems: list[str] = []
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="transitions-") as tmp:
                url = f"sqlite+aiosqlite:///{Path(tmp) / 'race.sqlite3'}"
                seconds, wins, attempts, found = await race(url, items=items, writers=writers)
                split_url = f"sqlite+aiosqlite:///{Path(tmp) / 'split.sqlite3'}"
                split_seconds = await split(split_url, items=items, writers=writers)
                raw = await raw_sqlite(Path(tmp) / "raw.sqlite3", items=items)
        else:
            try:
                url, name = await _pg_database()
                split_url, split_name = await _pg_database()
                raw_url, raw_name = await _pg_database()
            except OSError as exc:
                print(f"postgresql skipped: {PG_ADMIN_DSN} unreachable ({exc})")
                continue
            try:
                seconds, wins, attempts, found = await race(url, items=items, writers=writers)
                split_seconds = await split(split_url, items=items, writers=writers)
                raw = await raw_postgres(raw_url, items=items, writers=writers)
            finally:
                for database in (name, split_name, raw_name):
                    await _drop_pg(database)
        _report(backend, seconds, wins, attempts, split_seconds=split_seconds, raw=raw)
        problems += [f"{backend}: {p}" for p in found]
    for problem in problems:
        print(f"  PROBLEM {problem}")
    ok = not problems
    print(f"\nlost or doubled transitions: {len(problems)} -> {verdict(ok)}")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse flags and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(machine_line())
    print(f"{args.writers} writers racing over {args.items} items x {len(PATH) - 1} steps\n")
    return asyncio.run(run(args.items, args.writers, args.backends))


if __name__ == "__main__":
    sys.exit(main())
