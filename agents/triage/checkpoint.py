"""Durable LangGraph checkpointers: SQLite file by default, PostgreSQL beside the main database."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.sqlite import SqliteSaver
from sqlalchemy.engine import make_url

from storage.db import configure_sqlite
from storage.forgetting import DataSubject
from storage.worker_thread import WorkerThread

T = TypeVar("T")


class ThreadCheckpoints:
    """The graph checkpoints of items (thread id = item id), as a store of personal data."""

    name = "checkpoints"

    def __init__(self, saver: BaseCheckpointSaver[str]) -> None:
        self.saver = saver

    async def forget(self, subject: DataSubject) -> int:
        """Delete every checkpoint and pending write of the subject's items."""
        return await self.prune(subject.item_ids)

    async def prune(self, item_ids: Sequence[int]) -> int:
        """Delete the checkpoints and pending writes of these items; returns how many items."""
        for item_id in item_ids:
            await self.saver.adelete_thread(str(item_id))
        return len(item_ids)


class ThreadedSqliteSaver(SqliteSaver):
    """LangGraph's SQLite saver, driven from one worker thread.

    `AsyncSqliteSaver` hops to its driver thread for every cursor operation (four or five
    per checkpoint) behind one lock; here each checkpoint call is one hop to a thread
    that owns the connection, which keeps a burst of items from queueing on the lock.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._thread = WorkerThread("checkpoints")

    async def _call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._thread.call(func, *args, **kwargs)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """`get_tuple` on the saver's thread."""
        return await self._call(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """`list` on the saver's thread (read whole, then yielded)."""
        found = await self._call(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for checkpoint in found:
            yield checkpoint

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """`put` on the saver's thread."""
        return await self._call(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """`put_writes` on the saver's thread."""
        await self._call(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """`delete_thread` on the saver's thread."""
        await self._call(self.delete_thread, thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        """`get_delta_channel_history` on the saver's thread."""
        return await self._call(self.get_delta_channel_history, config=config, channels=channels)

    def close(self) -> None:
        """Finish queued calls, stop the thread and close the connection."""
        self._thread.close()
        self.conn.close()


def _open_sqlite_saver(path: Path) -> ThreadedSqliteSaver:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False)
    configure_sqlite(conn)
    saver = ThreadedSqliteSaver(conn)
    saver.setup()
    return saver


def postgres_dsn(database_url: str) -> str:
    """The psycopg DSN for a SQLAlchemy `postgresql+asyncpg://` URL."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@asynccontextmanager
async def open_checkpointer(
    *, database_url: str, data_dir: Path
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """The checkpointer that matches the main database, set up and ready."""
    if database_url.startswith("postgresql"):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        async with AsyncConnectionPool(
            postgres_dsn(database_url),
            max_size=10,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=False,
        ) as pool:
            saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await saver.setup()
            yield saver
        return
    saver = await asyncio.to_thread(_open_sqlite_saver, data_dir / "checkpoints.sqlite3")
    try:
        yield saver
    finally:
        await asyncio.to_thread(saver.close)
