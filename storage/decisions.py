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


async def first_edit_on(db: Database, item_id: int, draft_revision: int) -> LoggedDecision | None:
    """The first accepted Edit of the item made on its draft at `draft_revision` or later.

    That is who changed the draft after an Edit modal was opened on that revision; None when
    no logged Edit says (the graph redrafted it, or an Edit from a modal without a revision).
    """
    for logged in await decisions_after(db, item_id, 0):
        made_on = logged.decision.get("draft_revision")
        is_edit = logged.decision.get("action") == "edit"
        if is_edit and isinstance(made_on, int) and made_on >= draft_revision:
            return logged
    return None


async def last_edit_seq(db: Database, item_id: int) -> int:
    """Position of the item's newest logged Edit (0 when none was logged)."""
    logged = await decisions_after(db, item_id, 0)
    return max((d.seq for d in logged if d.decision.get("action") == "edit"), default=0)
