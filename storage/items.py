"""Repository for feedback items and their audit trail: the only code that writes them."""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from storage.batching import MicroBatcher
from storage.db import Database
from storage.item_moves import (
    ITEM_COLUMNS,
    RACED,
    DraftChange,
    SeenFingerprint,
    item_of,
    move,
    update_item,
)
from storage.models import (
    OPEN_STATUSES,
    TRANSITIONS,
    AuditEvent,
    FeedbackItem,
    FeedbackItemBase,
    ItemStatus,
    utcnow,
)
from storage.outbox import Owed

log = logging.getLogger(__name__)

_MAX_CAS_ATTEMPTS = 5


#: Item ids live in a 32-bit INTEGER column; PostgreSQL refuses larger query arguments.
MAX_ITEM_ID = 2**31 - 1


class Unfinished(NamedTuple):
    """What recovery needs to know of an item whose graph is not finished."""

    id: int
    guild_id: int | None
    status: ItemStatus
    updated_at: datetime


class IllegalTransitionError(ValueError):
    """The requested move is not in `TRANSITIONS` for any status."""


def text_hash(text: str) -> str:
    """Stable hash of the normalised text, to spot verbatim repeats."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(folded.encode()).hexdigest()


_ITEMS = FeedbackItem.__table__  # type: ignore[attr-defined]
_ITEM_COLUMNS = ITEM_COLUMNS


def _sources_for(to: ItemStatus) -> frozenset[ItemStatus]:
    return frozenset(s for s, targets in TRANSITIONS.items() if to in targets)


class ItemRepository:
    """Create, read and move feedback items; every move is a compare-and-set plus an audit row."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Group commit: audit rows of concurrent node runs share one INSERT transaction,
        # and each caller returns only once its own row is committed.
        self._events: MicroBatcher[dict[str, Any], None] = MicroBatcher(
            self._insert_events, isolate_failures=True
        )

    async def _insert_events(self, rows: list[dict[str, Any]]) -> list[None]:
        await self.db.write(lambda conn: conn.execute(insert(AuditEvent), rows))
        return [None] * len(rows)

    def _insert(self) -> Any:
        dialect = postgresql if self.db.backend == "postgresql" else sqlite
        return dialect.insert(FeedbackItem)

    async def create(
        self,
        *,
        item: FeedbackItemBase,
        actor: str,
        requested_by: str | None = None,
        triage_after: datetime | None = None,
    ) -> tuple[FeedbackItem, bool]:
        """Store a new item unless its `source_key` exists; return (item, created).

        `requested_by` names the maintainer who explicitly sent it to triage;
        `triage_after` is when a triage deferred by the rate limit may start.
        """
        values = item.model_dump()
        values.update(
            triage_requested_by=requested_by,
            triage_after=triage_after,
            text_hash=text_hash(item.raw_text),
            status=ItemStatus.RECEIVED,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        stmt = (
            self._insert()
            .values(**values)
            .on_conflict_do_nothing(index_elements=["source_key"])
            .returning(*_ITEM_COLUMNS)
        )
        async with self.db.begin() as conn:
            row = (await conn.execute(stmt)).one_or_none()
            if row is not None:
                await conn.execute(
                    insert(AuditEvent).values(
                        item_id=row.id,
                        at=utcnow(),
                        actor=actor,
                        action="received",
                        to_status=ItemStatus.RECEIVED,
                        details={"source": item.source_kind},
                    )
                )
        if row is not None:
            return item_of(row), True
        existing = await self.get_by_source(item.source_key)
        assert existing is not None, "conflicting row vanished"
        return existing, False

    async def get(self, item_id: int) -> FeedbackItem | None:
        """The item with this id, or None (also for ids no row can have, e.g. from a button)."""
        if not 0 < item_id <= MAX_ITEM_ID:
            return None
        stmt = select(*_ITEM_COLUMNS).where(_ITEMS.c.id == item_id)
        row = await self.db.read(lambda conn: conn.execute(stmt).one_or_none())
        return None if row is None else item_of(row)

    async def by_review_message(self, message_id: int) -> FeedbackItem | None:
        """The item whose review message this is, or None (one query on an indexed column)."""
        if not 0 < message_id < 2**63:
            return None
        stmt = select(*_ITEM_COLUMNS).where(_ITEMS.c.review_message_id == message_id).limit(1)
        row = await self.db.read(lambda conn: conn.execute(stmt).one_or_none())
        return None if row is None else item_of(row)

    async def get_by_source(self, source_key: str) -> FeedbackItem | None:
        """The item created from this Discord event, or None."""
        async with self.db.sessions() as session:
            stmt = select(FeedbackItem).where(FeedbackItem.source_key == source_key)
            return (await session.execute(stmt)).scalar_one_or_none()

    async def transition(
        self,
        *,
        item_id: int,
        to: ItemStatus,
        actor: str,
        expected: Iterable[ItemStatus] | None = None,
        details: dict[str, Any] | None = None,
        owes: Sequence[Owed] = (),
        audit_action: str = "transition",
        draft: DraftChange | None = None,
        seen: SeenFingerprint | None = None,
        **fields: Any,
    ) -> FeedbackItem | None:
        """Move the item to `to` if its current status allows it; None if it does not.

        The update is conditional on the status it moves from (read and locked first, on
        PostgreSQL, when several are allowed), so of two racing callers exactly one wins; the
        audit row (its action `audit_action`) and the outbox rows the move `owes` are written in
        the same transaction. A move that changes the `draft` bumps its revision, and is
        refused like a status mismatch when the draft is no longer at `draft.from_revision`.

        Raises:
            ChangedSinceSeenError: The item no longer has the `seen` fingerprint; nothing moved.
        """
        sources = _sources_for(to)
        if not sources:
            raise IllegalTransitionError(f"no status may move to {to}")
        if expected is not None:
            sources = sources & frozenset(expected)
        if not 0 < item_id <= MAX_ITEM_ID:
            return None
        for _ in range(_MAX_CAS_ATTEMPTS):
            outcome = await self.db.write(
                lambda conn: move(
                    conn,
                    item_id=item_id,
                    to=to,
                    sources=sources,
                    actor=actor,
                    details=details,
                    fields=fields,
                    owes=owes,
                    audit_action=audit_action,
                    draft=draft,
                    seen=seen,
                )
            )
            if outcome is not RACED:
                return cast("FeedbackItem | None", outcome)
        return None

    async def update_fields(
        self,
        *,
        item_id: int,
        owes: Sequence[Owed] = (),
        draft: DraftChange | None = None,
        **fields: Any,
    ) -> FeedbackItem | None:
        """Set fields that are not the status (triage results, message ids).

        The outbox rows the change `owes` (finishing the flow) are written in the same
        transaction; a change of the `draft` bumps its revision.
        """
        if "status" in fields:
            raise ValueError("use transition() to change the status")
        if not 0 < item_id <= MAX_ITEM_ID:
            return None
        row = await self.db.write(
            lambda conn: update_item(conn, item_id=item_id, fields=fields, owes=owes, draft=draft)
        )
        return None if row is None else item_of(row)

    async def replace_text(self, *, item_id: int, text: str) -> bool:
        """Replace the text of an item whose triage has not started; False if it has."""
        stmt = (
            update(_ITEMS)
            .where(_ITEMS.c.id == item_id, _ITEMS.c.status == ItemStatus.RECEIVED)
            .values(raw_text=text, text_hash=text_hash(text), updated_at=utcnow())
        )
        return bool(await self.db.write(lambda conn: conn.execute(stmt).rowcount))

    async def record_event(
        self,
        *,
        item_id: int | None,
        actor: str,
        action: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append an audit event that is not a status change (node runs, config edits)."""
        await self._events.submit(
            {
                "item_id": item_id,
                "at": utcnow(),
                "actor": actor,
                "action": action,
                "from_status": None,
                "to_status": None,
                "details": details,
            }
        )

    async def events(self, item_id: int) -> list[AuditEvent]:
        """The item's audit trail, oldest first."""
        async with self.db.sessions() as session:
            stmt = (
                select(AuditEvent).where(AuditEvent.item_id == item_id).order_by(AuditEvent.id)  # type: ignore[arg-type]
            )
            return list((await session.execute(stmt)).scalars())

    async def list_by_status(
        self, statuses: Iterable[ItemStatus], *, limit: int | None = None
    ) -> list[FeedbackItem]:
        """Items in any of these statuses, oldest first."""
        async with self.db.sessions() as session:
            stmt = (
                select(FeedbackItem)
                .where(FeedbackItem.status.in_([str(s) for s in statuses]))  # type: ignore[attr-defined]
                .order_by(FeedbackItem.id)  # type: ignore[arg-type]
            )
            if limit is not None:
                stmt = stmt.limit(limit)
            return list((await session.execute(stmt)).scalars())

    async def unfinished(self) -> list[Unfinished]:
        """Items whose triage graph may still have work (or waits for a decision), oldest
        first: a few columns each, never the whole rows."""
        stmt = _unfinished(
            select(
                col(FeedbackItem.id),
                col(FeedbackItem.guild_id),
                col(FeedbackItem.status),
                col(FeedbackItem.updated_at),
            )
        )
        async with self.db.sessions() as session:
            rows = await session.execute(stmt)
            return [Unfinished(cast(int, i), g, ItemStatus(s), u) for i, g, s, u in rows]

    async def list_open(self) -> list[FeedbackItem]:
        """Every item that still needs the bot or a maintainer."""
        return await self.list_by_status(OPEN_STATUSES)

    async def counts_by_status(self, *, guild_id: int | None = None) -> dict[str, int]:
        """How many items are in each status."""
        async with self.db.sessions() as session:
            stmt = select(FeedbackItem.status, func.count()).group_by(FeedbackItem.status)
            if guild_id is not None:
                stmt = stmt.where(FeedbackItem.guild_id == guild_id)
            rows = (await session.execute(stmt)).all()
        return {status: count for status, count in rows}

    async def count_created_since(self, since: datetime, *, guild_id: int | None = None) -> int:
        """Items received since the given time."""
        async with self.db.sessions() as session:
            stmt = (
                select(func.count())
                .select_from(FeedbackItem)
                .where(
                    FeedbackItem.created_at >= since  # type: ignore[arg-type]
                )
            )
            if guild_id is not None:
                stmt = stmt.where(FeedbackItem.guild_id == guild_id)
            return int((await session.execute(stmt)).scalar_one())

    async def count_transitions_since(
        self, since: datetime, to: Sequence[ItemStatus], *, guild_id: int | None = None
    ) -> int:
        """Transitions into any of these statuses since the given time (of one guild's items)."""
        async with self.db.sessions() as session:
            stmt = (
                select(func.count())
                .select_from(AuditEvent)
                .where(
                    AuditEvent.at >= since,  # type: ignore[arg-type]
                    AuditEvent.to_status.in_([str(s) for s in to]),  # type: ignore[union-attr]
                )
            )
            if guild_id is not None:
                stmt = stmt.join(
                    FeedbackItem,
                    FeedbackItem.id == AuditEvent.item_id,  # type: ignore[arg-type]
                ).where(FeedbackItem.guild_id == guild_id)
            return int((await session.execute(stmt)).scalar_one())

    async def oldest_in(
        self, status: ItemStatus, *, guild_id: int | None = None
    ) -> FeedbackItem | None:
        """The longest-waiting item in this status (of one guild, when given)."""
        async with self.db.sessions() as session:
            stmt = select(FeedbackItem).where(FeedbackItem.status == status)
            if guild_id is not None:
                stmt = stmt.where(FeedbackItem.guild_id == guild_id)
            stmt = stmt.order_by(FeedbackItem.updated_at).limit(1)  # type: ignore[arg-type]
            return (await session.execute(stmt)).scalar_one_or_none()

    async def find_by_issue(self, *, repo: str, issue_number: int) -> list[FeedbackItem]:
        """Items filed as, or marked duplicate of, this GitHub issue."""
        async with self.db.sessions() as session:
            stmt = select(FeedbackItem).where(
                FeedbackItem.repo == repo, FeedbackItem.issue_number == issue_number
            )
            return list((await session.execute(stmt)).scalars())

    async def find_by_issues(self, *, repo: str, numbers: Iterable[int]) -> list[FeedbackItem]:
        """Items filed as, or marked duplicate of, any of these issues of `repo`."""
        wanted = sorted(set(numbers))
        found: list[FeedbackItem] = []
        async with self.db.sessions() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                stmt = (
                    select(FeedbackItem)
                    .where(
                        FeedbackItem.repo == repo,
                        FeedbackItem.issue_number.in_(chunk),  # type: ignore[union-attr]
                    )
                    .order_by(FeedbackItem.id)  # type: ignore[arg-type]
                )
                found.extend((await session.execute(stmt)).scalars())
        return found


_Stmt = TypeVar("_Stmt", bound="Select[*tuple[Any, ...]]")


def _unfinished(stmt: _Stmt) -> _Stmt:
    """`stmt` narrowed to items whose graph may still have work, oldest first."""
    return stmt.where(col(FeedbackItem.flow_done).is_(False)).order_by(col(FeedbackItem.id))
