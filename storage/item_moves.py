"""One compare-and-set write of an item: its status move (or fields), audit row and outbox rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, insert, select, update

from storage.models import AuditEvent, FeedbackItem, ItemStatus, utcnow
from storage.outbox import Owed, add_owed

_ITEMS = FeedbackItem.__table__  # type: ignore[attr-defined]
ITEM_COLUMNS = tuple(_ITEMS.c)

#: `move` found the status changed between its read and its conditional update.
RACED = object()


@dataclass(frozen=True, slots=True)
class DraftChange:
    """The write changes the item's draft: its `draft_revision` goes up by one.

    With `from_revision`, the write happens only while the draft is still at that revision
    (an Edit made on the draft a maintainer saw), checked in the same conditional update.
    """

    from_revision: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """What the row must still hold for the write to happen."""
        if self.from_revision is None:
            return []
        return [_ITEMS.c.draft_revision == self.from_revision]

    def values(self) -> dict[str, Any]:
        """The revision's increment, for the update's values."""
        return {"draft_revision": _ITEMS.c.draft_revision + 1}

    def holds(self, revision: int) -> bool:
        """Whether a draft at `revision` may be changed."""
        return self.from_revision is None or revision == self.from_revision


class ChangedSinceSeenError(Exception):
    """The item no longer holds what the decision's maker was shown; nothing was written."""

    def __init__(self, item: FeedbackItem, *, shown: str, current: str) -> None:
        super().__init__(f"item {item.id} is at {current}, not at {shown} as shown")
        self.item, self.shown, self.current = item, shown, current


@dataclass(frozen=True, slots=True)
class SeenFingerprint:
    """A decision made on what its maker was shown: the locked row must still have `value`.

    `of` fingerprints an item (what filing it would write); the move checks it on the row it
    locks, so a change committed before is seen and one committed after finds the item moved.
    """

    value: str
    of: Callable[[FeedbackItem], str]

    def check(self, item: FeedbackItem) -> None:
        """Raise `ChangedSinceSeenError` unless `item` still has the seen fingerprint."""
        current = self.of(item)
        if current != self.value:
            raise ChangedSinceSeenError(item, shown=self.value, current=current)


def item_of(row: Row[Any]) -> FeedbackItem:
    """A detached item from a Core result row (the ORM session is skipped on hot paths)."""
    return FeedbackItem(**row._mapping)


def move(
    conn: Connection,
    *,
    item_id: int,
    to: ItemStatus,
    sources: frozenset[ItemStatus],
    actor: str,
    details: dict[str, Any] | None,
    fields: dict[str, Any],
    owes: Sequence[Owed] = (),
    audit_action: str = "transition",
    draft: DraftChange | None = None,
    seen: SeenFingerprint | None = None,
) -> Any:
    """One compare-and-set attempt with its audit row: the moved item, None, or `RACED`.

    With a single allowed source status and nothing `seen` to check, the conditional update
    alone decides; otherwise the row is read (and locked, on PostgreSQL) first, to record
    where the move came from and check what the decision was made on. A `draft` change is
    conditional on its revision too.

    Raises:
        ChangedSinceSeenError: The locked item no longer has the `seen` fingerprint.
    """
    observed: str | None
    blind = seen is None and len(sources) == 1
    if blind:
        (observed,) = sources
    else:
        row = conn.execute(
            select(*ITEM_COLUMNS).where(_ITEMS.c.id == item_id).with_for_update()
        ).one_or_none()
        if row is None or ItemStatus(row.status) not in sources:
            return None
        if draft is not None and not draft.holds(row.draft_revision):
            return None
        if seen is not None:
            seen.check(item_of(row))
        observed = row.status
    moved = conn.execute(
        update(_ITEMS)
        .where(
            _ITEMS.c.id == item_id,
            _ITEMS.c.status == observed,
            *(draft.conditions() if draft else ()),
        )
        .values(status=to, updated_at=utcnow(), **fields, **(draft.values() if draft else {}))
        .returning(*ITEM_COLUMNS)
    ).one_or_none()
    if moved is None:
        return None if blind else RACED
    conn.execute(
        insert(AuditEvent).values(
            item_id=item_id,
            at=utcnow(),
            actor=actor,
            action=audit_action,
            from_status=observed,
            to_status=to,
            details=details,
        )
    )
    add_owed(conn, item_id=item_id, guild_id=moved.guild_id, owed=owes)
    return item_of(moved)


def update_item(
    conn: Connection,
    *,
    item_id: int,
    fields: dict[str, Any],
    owes: Sequence[Owed] = (),
    draft: DraftChange | None = None,
) -> Row[Any] | None:
    """Set fields that are not the status, and write the outbox rows the change owes."""
    row = conn.execute(
        update(_ITEMS)
        .where(_ITEMS.c.id == item_id, *(draft.conditions() if draft else ()))
        .values(updated_at=utcnow(), **fields, **(draft.values() if draft else {}))
        .returning(*ITEM_COLUMNS)
    ).one_or_none()
    if row is not None:
        add_owed(conn, item_id=item_id, guild_id=row.guild_id, owed=owes)
    return row
