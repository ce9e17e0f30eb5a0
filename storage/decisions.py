"""The decision log of an item: every accepted decision, in order, kept in its audit trail.

A decision is written as the audit row of the status move that accepted it (same
transaction), with the action `decision` and the decision as its details; the row's id
orders the decisions of an item. The graph records the id of the last one it took, so a
later decision never replaces an earlier one that has not been acted on yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from storage.db import Database
from storage.models import AuditEvent

#: Audit action of the row that logs an accepted decision.
DECISION_ACTION = "decision"

_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class LoggedDecision:
    """One accepted decision and its place in the item's log."""

    seq: int
    decision: dict[str, Any]


async def decisions_after(db: Database, item_id: int, seq: int) -> list[LoggedDecision]:
    """The item's decisions logged after position `seq`, oldest first."""
    stmt = (
        select(_AUDIT.c.id, _AUDIT.c.details)
        .where(
            _AUDIT.c.item_id == item_id,
            _AUDIT.c.action == DECISION_ACTION,
            _AUDIT.c.id > seq,
        )
        .order_by(_AUDIT.c.id)
    )
    rows = await db.read(lambda conn: conn.execute(stmt).all())
    return [LoggedDecision(row.id, dict(row.details)) for row in rows if row.details]


async def last_decision_seq(db: Database, item_id: int) -> int:
    """Position of the item's newest logged decision (0 when none was logged)."""
    stmt = select(func.max(_AUDIT.c.id)).where(
        _AUDIT.c.item_id == item_id, _AUDIT.c.action == DECISION_ACTION
    )
    return int(await db.read(lambda conn: conn.execute(stmt).scalar()) or 0)
