"""Repository of the structured-output method that works per LLM endpoint and model."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite

from storage.db import Database
from storage.models import LLMMethod, utcnow


def _key(endpoint: str, model: str) -> tuple[str, str, str]:
    endpoint = endpoint.rstrip("/")
    digest = hashlib.sha256(f"{endpoint}\n{model}".encode()).hexdigest()
    return digest, endpoint, model


class LLMMethodRepository:
    """`MethodMemory` in the database, so a restart does not negotiate the method again."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self) -> Any:
        dialect = postgresql if self.db.backend == "postgresql" else sqlite
        return dialect.insert(LLMMethod)

    async def recall(self, *, endpoint: str, model: str) -> str | None:
        """The method last recorded for `model` at `endpoint`, if any."""
        key, _, _ = _key(endpoint, model)
        async with self.db.sessions() as session:
            row = await session.get(LLMMethod, key, populate_existing=True)
            return row.method if row is not None else None

    async def remember(self, *, endpoint: str, model: str, method: str) -> None:
        """Record (or replace) the method that works for `model` at `endpoint`."""
        key, endpoint, model = _key(endpoint, model)
        stmt = self._insert().values(
            key=key, endpoint=endpoint, model=model, method=method, updated_at=utcnow()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"method": stmt.excluded.method, "updated_at": stmt.excluded.updated_at},
        )
        async with self.db.transaction() as session:
            await session.execute(stmt)
