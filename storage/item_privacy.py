"""Personal data in items and their audit trail: find it, trace it to GitHub, forget it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, Text, cast, delete, func, or_, select, update

from storage.db import Database
from storage.decisions import DECISION_ACTION
from storage.forgetting import FORGOTTEN, DataSubject, chunks
from storage.models import (
    FINISHED_STATUSES,
    AuditEvent,
    FeedbackItem,
    ItemStatus,
    SourceKind,
    utcnow,
)

_ITEMS = FeedbackItem.__table__  # type: ignore[attr-defined]
_AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]
#: Intake whose audit actor is the reporter's own username.
_SELF_REPORTED = (SourceKind.CHANNEL, SourceKind.SLASH)
#: What an item keeps once its texts are removed: status, verdict, links, timestamps.
_SCRUBBED: dict[str, Any] = {
    "raw_text": "",
    "edited_text": None,
    "reporter_more": None,
    "title": None,
    "context": None,
    "attachments": None,
    "author_name": "",
    "jump_url": None,
    "spec": None,
    "duplicates": None,
    "decision": None,
    "reasoning": None,
    "triage_requested_by": None,
}


@dataclass(frozen=True, slots=True)
class GitHubTrace:
    """Where an item's text lives on GitHub (the bot never deletes issues)."""

    item_id: int
    guild_id: int | None
    repo: str
    issue_number: int
    url: str | None
    how: str
    """`filed` (the issue was made from it) or `quoted` (a duplicate comment quotes it)."""


@dataclass(frozen=True, slots=True)
class ReviewMessage:
    """A review message the bot posted about an item."""

    item_id: int
    guild_id: int | None
    channel_id: int
    message_id: int


def _is_person(subject: DataSubject, actor: Any) -> Any:
    """SQL: the actor column names the person (username, or `name (id)`)."""
    clauses = [actor.in_(sorted(subject.names))] if subject.names else []
    if subject.user_id is not None:
        clauses.append(actor.like(f"%({subject.user_id})"))
    return or_(*clauses) if clauses else None


def _usernames(conn: Connection, item_ids: Sequence[int]) -> set[str]:
    """Reporters' usernames recorded as the actor of their items' intake."""
    names: set[str] = set()
    for chunk in chunks(item_ids):
        rows = conn.execute(
            select(_AUDIT.c.actor)
            .join(_ITEMS, _ITEMS.c.id == _AUDIT.c.item_id)
            .where(
                _AUDIT.c.item_id.in_(chunk),
                _AUDIT.c.action == "received",
                _ITEMS.c.source_kind.in_([str(k) for k in _SELF_REPORTED]),
            )
        )
        names.update(actor for (actor,) in rows if actor)
    return names


def _rewrite_json(conn: Connection, column: str, needle: str, rewrite: Any, skip: set[int]) -> int:
    """Rewrite a JSON column of the items whose text contains `needle` (other items only)."""
    target = _ITEMS.c[column]
    rows = conn.execute(
        select(_ITEMS.c.id, target).where(cast(target, Text).like(f"%{needle}%"))
    ).all()
    changed = 0
    for item_id, value in rows:
        if item_id in skip or not isinstance(value, dict):
            continue
        new = rewrite(value)
        if new != value:
            conn.execute(update(_ITEMS).where(_ITEMS.c.id == item_id).values({column: new}))
            changed += 1
    return changed


def _forget_person_elsewhere(conn: Connection, subject: DataSubject, own: set[int]) -> int:
    """The person's name and id where rows are kept: audit actors, decisions, requests."""
    changed = 0
    person = _is_person(subject, _AUDIT.c.actor)
    if person is not None:
        decisions = person & (_AUDIT.c.action == DECISION_ACTION)
        changed += conn.execute(
            update(_AUDIT).where(person & ~decisions).values(actor=FORGOTTEN, details=None)
        ).rowcount
        changed += _anonymise_decisions(conn, decisions)
    if subject.names:
        changed += conn.execute(
            update(_ITEMS)
            .where(_ITEMS.c.triage_requested_by.in_(sorted(subject.names)))
            .values(triage_requested_by=FORGOTTEN)
        ).rowcount
    if subject.user_id is not None:

        def anonymous(decision: dict[str, Any]) -> dict[str, Any]:
            if decision.get("actor_id") != subject.user_id:
                return decision
            return {**decision, "actor": FORGOTTEN, "actor_id": None}

        changed += _rewrite_json(conn, "decision", str(subject.user_id), anonymous, own)
    return changed


def _anonymise_decisions(conn: Connection, decisions: Any) -> int:
    """Logged decisions lose who made them but keep what was decided: an item whose graph
    has not taken the decision yet must still finish (an Approve, a Reject, an Edit)."""
    rows = conn.execute(select(_AUDIT.c.id, _AUDIT.c.details).where(decisions)).all()
    for row in rows:
        details = dict(row.details or {})
        details.update(actor=FORGOTTEN, actor_id=None)
        conn.execute(
            update(_AUDIT).where(_AUDIT.c.id == row.id).values(actor=FORGOTTEN, details=details)
        )
    return len(rows)


def _drop_matches(conn: Connection, item_ids: Sequence[int]) -> int:
    """Other items' duplicate candidates that point at the forgotten items' feedback."""
    gone = {f"feedback:{i}" for i in item_ids}

    def without(result: dict[str, Any]) -> dict[str, Any]:
        matches = [m for m in result.get("matches") or [] if m.get("id") not in gone]
        return {**result, "matches": matches}

    return _rewrite_json(conn, "duplicates", '"feedback:', without, set(item_ids))


def _forget_guild_records(conn: Connection, guild_id: int) -> int:
    """A departed guild's digest log and configuration audit rows."""
    removed = conn.execute(
        delete(_AUDIT).where(
            _AUDIT.c.item_id.is_(None), _AUDIT.c.action == f"digest_posted:{guild_id}"
        )
    ).rowcount
    rows = conn.execute(
        select(_AUDIT.c.id, _AUDIT.c.details).where(
            _AUDIT.c.item_id.is_(None),
            _AUDIT.c.action == "config",
            cast(_AUDIT.c.details, String).like(f"%{guild_id}%"),
        )
    ).all()
    for event_id, details in rows:
        if isinstance(details, dict) and details.get("guild_id") == guild_id:
            conn.execute(
                update(_AUDIT).where(_AUDIT.c.id == event_id).values(actor=FORGOTTEN, details=None)
            )
            removed += 1
    return removed


def _forget(conn: Connection, subject: DataSubject) -> int:
    ids = list(subject.item_ids)
    # The reporters' usernames are anonymised on their items' rows; elsewhere only when
    # the person (not just an item, a guild or old texts) is forgotten.
    reporters = replace(subject, names=subject.names | _usernames(conn, ids))
    person = _is_person(reporters, _AUDIT.c.actor)
    for chunk in chunks(ids):
        trail = update(_AUDIT).where(_AUDIT.c.item_id.in_(chunk))
        if person is not None:
            conn.execute(trail.where(person).values(actor=FORGOTTEN))
        conn.execute(trail.values(details=None))
        if not subject.keep_items:
            conn.execute(trail.values(item_id=None))
    if subject.is_person:
        _forget_person_elsewhere(conn, reporters, set(ids))
    _drop_matches(conn, ids)
    if subject.guild_id is not None:
        _forget_guild_records(conn, subject.guild_id)
    done = 0
    for chunk in chunks(ids):
        if subject.keep_items:
            now = utcnow()
            done += conn.execute(
                update(_ITEMS)
                .where(_ITEMS.c.id.in_(chunk))
                .values(**_SCRUBBED, content_removed_at=now, unindexed_at=now, updated_at=now)
            ).rowcount
        else:
            done += conn.execute(delete(_ITEMS).where(_ITEMS.c.id.in_(chunk))).rowcount
    return done


class ItemPrivacyRepository:
    """The items and audit rows that hold people's texts, names and ids.

    Its `forget` runs after every other store's: their rows refer to the items.
    """

    name = "items"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget(self, subject: DataSubject) -> int:
        """Delete (or empty, with `keep_items`) the items and anonymise their audit rows.

        The person's username and id are also replaced in audit rows, decisions and triage
        requests of other items; other items' duplicate candidates pointing at these items
        are dropped. Returns how many items were deleted or emptied.
        """
        return await self.db.write(lambda conn: _forget(conn, subject))

    async def _ids(self, *where: Any) -> list[int]:
        stmt = select(_ITEMS.c.id).where(*where).order_by(_ITEMS.c.id)
        return await self.db.read(lambda conn: [int(i) for (i,) in conn.execute(stmt)])

    async def items_of_author(self, user_id: int, *, guild_id: int | None = None) -> list[int]:
        """Ids of the items a person reported (in one guild, or everywhere)."""
        where = [_ITEMS.c.author_id == user_id]
        if guild_id is not None:
            where.append(_ITEMS.c.guild_id == guild_id)
        return await self._ids(*where)

    async def guild_counts(self, item_ids: Sequence[int]) -> dict[int | None, int]:
        """How many of these items each guild has."""

        def work(conn: Connection) -> dict[int | None, int]:
            counts: dict[int | None, int] = {}
            for chunk in chunks(item_ids):
                stmt = (
                    select(_ITEMS.c.guild_id, func.count())
                    .where(_ITEMS.c.id.in_(chunk))
                    .group_by(_ITEMS.c.guild_id)
                )
                for guild_id, count in conn.execute(stmt):
                    counts[guild_id] = counts.get(guild_id, 0) + int(count)
            return counts

        return await self.db.read(work)

    async def items_of_guild(self, guild_id: int) -> list[int]:
        """Ids of every item of the guild."""
        return await self._ids(_ITEMS.c.guild_id == guild_id)

    async def finished_before(self, cutoff: datetime, *, limit: int) -> list[int]:
        """Finished items last changed before `cutoff` whose texts are still kept."""
        stmt = (
            select(_ITEMS.c.id)
            .where(
                _ITEMS.c.status.in_([str(s) for s in FINISHED_STATUSES]),
                _ITEMS.c.updated_at < cutoff,
                _ITEMS.c.content_removed_at.is_(None),
            )
            .order_by(_ITEMS.c.id)
            .limit(limit)
        )
        return await self.db.read(lambda conn: [int(i) for (i,) in conn.execute(stmt)])

    async def rejected_still_indexed(self, cutoff: datetime, *, limit: int) -> dict[int, str]:
        """Rejected items decided before `cutoff` whose document may be indexed: id -> repo."""
        stmt = (
            select(_ITEMS.c.id, _ITEMS.c.repo)
            .where(
                _ITEMS.c.status == ItemStatus.REJECTED,
                _ITEMS.c.updated_at < cutoff,
                _ITEMS.c.unindexed_at.is_(None),
            )
            .order_by(_ITEMS.c.id)
            .limit(limit)
        )
        rows = await self.db.read(lambda conn: conn.execute(stmt).all())
        return {int(i): repo or "" for i, repo in rows}

    async def mark_unindexed(self, item_ids: Sequence[int]) -> None:
        """Record that these items' documents left the duplicate index."""

        def work(conn: Connection) -> None:
            for chunk in chunks(item_ids):
                conn.execute(
                    update(_ITEMS).where(_ITEMS.c.id.in_(chunk)).values(unindexed_at=utcnow())
                )

        await self.db.write(work)

    async def github_traces(self, item_ids: Sequence[int]) -> list[GitHubTrace]:
        """Issues filed from these items, and issues where a duplicate comment quotes them."""

        def work(conn: Connection) -> list[GitHubTrace]:
            traces: list[GitHubTrace] = []
            for chunk in chunks(item_ids):
                quoted = {
                    int(i)
                    for (i,) in conn.execute(
                        select(_AUDIT.c.item_id).where(
                            _AUDIT.c.item_id.in_(chunk), _AUDIT.c.action == "duplicate_comment"
                        )
                    )
                }
                rows = conn.execute(
                    select(
                        _ITEMS.c.id,
                        _ITEMS.c.guild_id,
                        _ITEMS.c.repo,
                        _ITEMS.c.issue_number,
                        _ITEMS.c.issue_url,
                        _ITEMS.c.status,
                    )
                    .where(_ITEMS.c.id.in_(chunk), _ITEMS.c.issue_number.is_not(None))
                    .order_by(_ITEMS.c.id)
                )
                for item_id, guild_id, repo, number, url, status in rows:
                    how = "filed" if status == ItemStatus.FILED else "quoted"
                    if how == "filed" or item_id in quoted:
                        traces.append(GitHubTrace(item_id, guild_id, repo or "", number, url, how))
            return traces

        return await self.db.read(work)

    async def review_messages(self, item_ids: Sequence[int]) -> list[ReviewMessage]:
        """The review messages posted about these items."""

        def work(conn: Connection) -> list[ReviewMessage]:
            found: list[ReviewMessage] = []
            for chunk in chunks(item_ids):
                rows = conn.execute(
                    select(
                        _ITEMS.c.id,
                        _ITEMS.c.guild_id,
                        _ITEMS.c.review_channel_id,
                        _ITEMS.c.review_message_id,
                    ).where(_ITEMS.c.id.in_(chunk), _ITEMS.c.review_message_id.is_not(None))
                )
                found += [ReviewMessage(int(i), g, int(c), int(m)) for i, g, c, m in rows if c]
            return found

        return await self.db.read(work)
