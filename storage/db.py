"""Async engines for SQLite (aiosqlite) and PostgreSQL (asyncpg), and schema migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage.worker_thread import WorkerThread

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "alembic"

T = TypeVar("T")
#: A unit of work over one connection, run inside one transaction.
Work = Callable[[Connection], T]


#: Page cache of each SQLite connection. A process holds several (sessions, the reader and
#: writer threads, the checkpoints), each filling SQLite's default 2 MiB as the files grow;
#: the operating system caches the files anyway.
SQLITE_CACHE_KIB = 512

_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "busy_timeout=30000",
    "foreign_keys=ON",
    "synchronous=NORMAL",
    f"cache_size=-{SQLITE_CACHE_KIB}",
)


def configure_sqlite(dbapi_connection: Any, _record: Any = None) -> None:
    """Settings of every SQLite connection: WAL, a busy timeout, a small page cache."""
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create an async engine; SQLite files get WAL mode and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", configure_sqlite)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class _SqliteThreads:
    """A synchronous engine on the same SQLite file, driven from two worker threads.

    aiosqlite hops to its thread for every cursor call (three or four per statement);
    here a whole transaction is one hop: writes on one thread, reads on another.
    """

    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(
            make_url(url).set(drivername="sqlite"),
            connect_args={"timeout": 30, "check_same_thread": False},
        )
        event.listen(self.engine, "connect", configure_sqlite)
        self._writer = WorkerThread("sqlite-writer")
        self._reader = WorkerThread("sqlite-reader")

    def _write(self, work: Work[T]) -> T:
        with self.engine.begin() as conn:
            return work(conn)

    def _read(self, work: Work[T]) -> T:
        with self.engine.connect() as conn:
            return work(conn)

    async def write(self, work: Work[T]) -> T:
        return await self._writer.call(self._write, work)

    async def read(self, work: Work[T]) -> T:
        return await self._reader.call(self._read, work)

    def close(self) -> None:
        self._writer.close()
        self._reader.close()
        self.engine.dispose()


class Database:
    """Owns the engine and hands out sessions and write transactions."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        # SQLite has one writer at a time. Queueing this process's writers here, instead of
        # letting them collide on the file lock, spares them SQLite's sleeping busy handler.
        self._write_lock = asyncio.Lock() if self.backend == "sqlite" else None
        self._threads = _SqliteThreads(url) if self.backend == "sqlite" else None

    def _writer_turn(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """This process's turn to write (SQLite), or no wait at all (PostgreSQL)."""
        return self._write_lock or contextlib.nullcontext()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on exit, rolled back on error."""
        async with self._writer_turn(), self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection inside one write transaction (no ORM session on hot paths)."""
        async with self._writer_turn(), self.engine.begin() as conn:
            yield conn

    async def write(self, work: Work[T]) -> T:
        """Run `work` in one write transaction, committed when it returns.

        For hot paths: on SQLite the whole transaction is one call on the writer thread; on
        PostgreSQL it runs through the async driver.
        """
        async with self._writer_turn():
            if self._threads is not None:
                return await self._threads.write(work)
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)

    async def read(self, work: Work[T]) -> T:
        """Run `work` on a connection that writes nothing (one call on SQLite's reader thread)."""
        if self._threads is not None:
            return await self._threads.read(work)
        async with self.engine.connect() as conn:
            return await conn.run_sync(work)

    @property
    def backend(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    async def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            log.warning("database ping failed", exc_info=True)
            return False
        return True

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._threads is not None:
            await asyncio.to_thread(self._threads.close)
        await self.engine.dispose()


def alembic_config(url: str) -> Any:
    """An Alembic config pointing at our migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade_sync(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


async def upgrade(url: str) -> None:
    """Apply every pending migration (runs Alembic in a worker thread)."""
    await asyncio.to_thread(_upgrade_sync, url)


def _current_and_head_sync(url: str) -> tuple[str | None, str | None]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    sync_url = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[sync_url.get_backend_name()]
    engine = create_engine(sync_url.set(drivername=driver))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    return current, head


async def migration_state(url: str) -> tuple[str | None, str | None]:
    """(current revision, head revision) of the database."""
    return await asyncio.to_thread(_current_and_head_sync, url)
