"""Where a person's words, names or ids are still stored: every table, checkpoint and document."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect, text

from storage.db import Database
from storage.vectors import VectorStore


def _as_text(value: Any) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _matches(where: str, values: dict[str, Any], needles: list[str]) -> list[str]:
    found = []
    for column, value in values.items():
        shown = _as_text(value)
        found += [f"{where}.{column} holds {n!r}" for n in needles if n in shown]
    return found


def _scan(conn: Connection, needles: list[str]) -> list[str]:
    found: list[str] = []
    for table in inspect(conn).get_table_names():
        for row in conn.execute(text(f'SELECT * FROM "{table}"')).mappings():
            found += _matches(table, dict(row), needles)
    return found


async def database_traces(db: Database, needles: list[str]) -> list[str]:
    """Every column of every table of the database (checkpoint tables included) holding one."""
    return await db.read(lambda conn: _scan(conn, needles))


def checkpoint_file_traces(data_dir: Path, needles: list[str]) -> list[str]:
    """The SQLite checkpoint file under DATA_DIR (absent with PostgreSQL)."""
    path = data_dir / "checkpoints.sqlite3"
    if not path.exists():
        return []
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        found: list[str] = []
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                found += _matches(f"checkpoints:{table}", dict(row), needles)
        return found
    finally:
        conn.close()


def index_traces(store: VectorStore, needles: list[str]) -> list[str]:
    """Every document (id, text, metadata) of every collection of the vector index."""
    found: list[str] = []
    for repo in store.repositories_sync():
        for doc in store.get_sync(repo, store.ids_sync(repo)).values():
            found += _matches(f"index:{repo}:{doc.id}", {"id": doc.id, "text": doc.text}, needles)
            found += _matches(f"index:{repo}:{doc.id}", dict(doc.metadata), needles)
    return found
