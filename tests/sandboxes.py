"""The sandbox bot on a test's own database (SQLite or PostgreSQL, from `db_url`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder


@asynccontextmanager
async def sandbox_on(
    db_url: str, tmp_path: Path, embedder: Embedder, **env: str
) -> AsyncIterator[Sandbox]:
    """A started sandbox bot on `db_url`, its data dir under `tmp_path`, with `env` set."""
    async with sandbox_stack(
        data_dir=tmp_path / "data",
        database_url=db_url,
        model=embedder.model,
        extra_env=env or None,
    ) as sandbox:
        yield sandbox
