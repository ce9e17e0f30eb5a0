"""Migrations match the models on both backends, and the latest one can be undone."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from storage import models  # noqa: F401  (registers the tables)
from storage.db import alembic_config


def _differences(url: str) -> list[Any]:
    parsed = make_url(url)
    driver = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}[parsed.get_backend_name()]
    engine = create_engine(parsed.set(drivername=driver))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


async def test_the_migrated_schema_is_the_models(db_url: str) -> None:
    assert await asyncio.to_thread(_differences, db_url) == []


async def test_the_latest_migration_goes_down_and_up_again(db_url: str) -> None:
    config = alembic_config(db_url)
    await asyncio.to_thread(command.downgrade, config, "0002")
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await asyncio.to_thread(_differences, db_url) == []
