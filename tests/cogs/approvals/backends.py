"""A sandbox bot on SQLite or on PostgreSQL, for the approvals tests that run on both."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.stack import Sandbox, sandbox_stack
from tests.cogs.approvals.conftest import FAST_RETRIES
from tests.conftest import create_pg_database, drop_pg_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@asynccontextmanager
async def sandbox_on(
    backend: str, tmp_path: Path, model: Any, **options: Any
) -> AsyncIterator[Sandbox]:
    """A running sandbox bot whose database is `backend` (a fresh one), with fast retries."""
    database_url = await create_pg_database() if backend == "postgres" else None
    try:
        async with sandbox_stack(
            data_dir=tmp_path / "data",
            database_url=database_url,
            model=model,
            github_retry=FAST_RETRIES,
            **options,
        ) as sandbox:
            yield sandbox
    finally:
        if database_url is not None:
            await drop_pg_database(database_url)
