"""Repository for the outbox: what a finished item still owes Discord and GitHub.

Rows are written by `ItemRepository` in the transaction that finishes the item (`owes=`),
so a crash right after the final status cannot lose them; `cogs/approvals/_outbox.py`
delivers them and marks them sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlmodel import col

from storage.db import Database
from storage.forgetting import DataSubject, chunks
from storage.models import AuditEvent, OutboxMessage, utcnow

#: Edit the review message to show the outcome (idempotent).
REVIEW_UPDATE = "review_update"
#: Tell the reporter the outcome (recorded as `reporter_notified:<event>` in the audit trail).
REPORTER_NOTICE = "reporter_notice"
#: Comment on the issue an item duplicates (carries the item's marker).
DUPLICATE_COMMENT = "duplicate_comment"
#: React to the reporter's message (not actionable).
REACTION = "reaction"

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Owed:
    """One delivery a transition owes: its kind and what the deliverer needs."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


def owed_on(event: str) -> tuple[Owed, ...]:
    """What Discord must hear once an item reaches the final `event`."""
    if event == "not_actionable":
        return (Owed(REACTION, {"event": event}),)
    owed = [Owed(REVIEW_UPDATE, {"event": event})]
    if event in ("filed", "rejected", "duplicate"):
        owed.append(Owed(REPORTER_NOTICE, {"event": event}))
    return tuple(owed)


def add_owed(conn: Connection, *, item_id: int, guild_id: int | None, owed: Iterable[Owed]) -> None:
    """Insert the rows on `conn`, inside the caller's transaction (the item's final write)."""
    now = utcnow()
    rows = [
        {
            "item_id": item_id,
            "guild_id": guild_id,
            "kind": o.kind,
            "payload": o.payload,
            "created_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        }
        for o in owed
    ]
    if rows:
        conn.execute(insert(_OUTBOX), rows)


class OutboxRepository:
    """Read pending rows and mark them delivered, retried or given up."""

    name = "outbox"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def pending(
        self,
        *,
        item_id: int | None = None,
        due_by: datetime | None = None,
        after_id: int = 0,
        limit: int = 200,
    ) -> list[OutboxMessage]:
        """Rows not yet delivered (of one item, or due by `due_by`) after row `after_id`,
        oldest first."""
        stmt = select(OutboxMessage).where(
            col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.id) > after_id
        )
        if item_id is not None:
            stmt = stmt.where(col(OutboxMessage.item_id) == item_id)
        if due_by is not None:
            stmt = stmt.where(col(OutboxMessage.next_attempt_at) <= due_by)
        stmt = stmt.order_by(col(OutboxMessage.id)).limit(limit)
        async with self.db.sessions() as session:
            return list((await session.execute(stmt)).scalars())

    async def is_pending(self, row_id: int) -> bool:
        """Whether the row still waits (another delivery may have finished it)."""
        stmt = select(_OUTBOX.c.id).where(_OUTBOX.c.id == row_id, _OUTBOX.c.sent_at.is_(None))
        return await self.db.read(lambda conn: conn.execute(stmt).first() is not None)

    async def mark_sent(
        self,
        row_id: int,
        *,
        error: str | None = None,
        audit: dict[str, Any] | None = None,
    ) -> bool:
        """Mark the row done (delivered, or given up with `error`); False if it already was.

        `audit` (item_id, actor, action, details) is appended to the audit trail in the
        same transaction, so the "already done" record and the row never disagree.
        """
        now = utcnow()
        stmt = (
            update(_OUTBOX)
            .where(_OUTBOX.c.id == row_id, _OUTBOX.c.sent_at.is_(None))
            .values(sent_at=now, last_error=error[:1000] if error else None)
        )

        def work(conn: Connection) -> bool:
            done = bool(conn.execute(stmt).rowcount)
            if done and audit is not None:
                conn.execute(insert(AuditEvent).values(at=now, **audit))
            return done

        return await self.db.write(work)

    async def retry_later(self, row_id: int, *, error: str, at: datetime) -> None:
        """Count a failed attempt; the row is due again at `at`."""
        stmt = (
            update(_OUTBOX)
            .where(_OUTBOX.c.id == row_id, _OUTBOX.c.sent_at.is_(None))
            .values(attempts=_OUTBOX.c.attempts + 1, last_error=error[:1000], next_attempt_at=at)
        )
        await self.db.write(lambda conn: conn.execute(stmt))

    async def forget(self, subject: DataSubject) -> int:
        """Rows of the subject's items (pending or not: payloads may quote the reporter)."""
        removed = 0
        for chunk in chunks(subject.item_ids):
            removed += await self._delete(col(OutboxMessage.item_id).in_(chunk))
        if subject.guild_id is not None:
            removed += await self._delete(col(OutboxMessage.guild_id) == subject.guild_id)
        return removed

    async def _delete(self, *conditions: Any) -> int:
        stmt = delete(_OUTBOX).where(or_(*conditions))
        return int(await self.db.write(lambda conn: conn.execute(stmt).rowcount))
