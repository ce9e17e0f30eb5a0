"""Shared fixtures: fresh SQLite and PostgreSQL databases, data paths."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from storage.db import Database, upgrade
from storage.embeddings import Embedder
from storage.guild_config import GuildConfigRepository

# The suite's shared model is the fp32 one (its figures and thresholds); the int8 encoder has
# its own tests with an artifact built in a temporary directory.
os.environ.setdefault("EMBEDDING_RUNTIME", "fp32")

PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _bot_logging_left_behind() -> Iterator[None]:
    """Remove the log handler a test installed through the CLI (its stderr closes with it)."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_iterateswarm", False):
            root.removeHandler(handler)
    root.setLevel(level)


async def _pg_admin() -> object:
    import asyncpg

    return await asyncpg.connect(PG_ADMIN_DSN, timeout=5)


async def create_pg_database() -> str:
    """Create an empty PostgreSQL database; return its asyncpg URL (skips or fails if no server)."""
    try:
        conn = await _pg_admin()
    except (OSError, Exception) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_ADMIN_DSN} is unreachable on CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_ADMIN_DSN} unreachable: {exc}")
    name = f"iterateswarm_t_{uuid.uuid4().hex[:12]}"
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    finally:
        await conn.close()  # type: ignore[attr-defined]
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_pg_database(url: str) -> None:
    """Drop a database made by `create_pg_database`."""
    name = url.rsplit("/", 1)[1]
    conn = await _pg_admin()
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
    finally:
        await conn.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
        await upgrade(url)
        yield url
        return
    url = await create_pg_database()
    try:
        await upgrade(url)
        yield url
    finally:
        await drop_pg_database(url)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def module_database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """DATABASE_URL for a module's sandbox bot on each backend (None: SQLite under DATA_DIR)."""
    if request.param == "sqlite":
        yield None
        return
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


@asynccontextmanager
async def migrated_database(url: str) -> AsyncIterator[Database]:
    """The database at `url`, migrated, for writing what a bot finds when it starts."""
    await upgrade(url)
    db = Database(url)
    try:
        yield db
    finally:
        await db.close()


async def store_guild_channels(
    db: Database, guild_id: int, *, feedback: int, review: int, maintainer_role: int
) -> None:
    """A guild's /config as an earlier release stored it, without checking the values."""
    await GuildConfigRepository(db).update(
        guild_id=guild_id,
        changes={
            "feedback_channel_ids": [feedback],
            "review_channel_id": review,
            "maintainer_role_ids": [maintainer_role],
        },
        actor="earlier-release",
    )


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """An open `Database` on a fresh schema."""
    db = Database(db_url, pool_size=25)
    yield db
    await db.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder beside the repository."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def embedder() -> Iterator[Embedder]:
    """The real embedding model, loaded once per test session."""
    model = Embedder()
    model.encode(["warm up"])
    yield model
    model.close()


def index_of_another_model(data_dir: Path, embedder: Embedder, repo: str, docs: list[Any]) -> None:
    """An index under `data_dir` whose vectors (random) an earlier embedding model made."""
    from storage.vectors import VectorStore

    earlier = VectorStore.open(data_dir=data_dir, embedder=embedder, model="earlier-model")
    other = np.random.default_rng(0).normal(size=(len(docs), 384)).astype(np.float32)
    earlier.upsert_sync(repo, docs, other / np.linalg.norm(other, axis=1, keepdims=True))
    earlier.close()
