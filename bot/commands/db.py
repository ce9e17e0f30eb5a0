"""`iterateswarm db upgrade`: apply database migrations."""

from __future__ import annotations

import argparse
import sys

from bot.settings import Settings
from storage.db import Database, migration_state, upgrade


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `db` and its `upgrade` / `current` actions."""
    parser = subparsers.add_parser("db", help="manage the database schema")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    actions.add_parser("upgrade", help="apply every pending migration").set_defaults(
        handler=_upgrade
    )
    actions.add_parser("current", help="show the applied and the latest revision").set_defaults(
        handler=_current
    )


async def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.db_url)
    try:
        if not await db.ping():
            print(f"iterateswarm: database unreachable ({db.backend})", file=sys.stderr)
            return 1
    finally:
        await db.close()
    await upgrade(settings.db_url)
    current, head = await migration_state(settings.db_url)
    print(f"database ({db.backend}) is at revision {current} (latest {head})")
    return 0


async def _current(args: argparse.Namespace, settings: Settings) -> int:
    current, head = await migration_state(settings.db_url)
    print(f"applied: {current or 'none'}; latest: {head}")
    return 0 if current == head else 1
