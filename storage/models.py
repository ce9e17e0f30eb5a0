"""SQLModel tables: items, audit trail, guild settings, sync state, examples, bot bookkeeping."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Dialect, Text, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

#: Longest engine name stored with an item; the engines bound their names to it.
ENGINE_NAME_MAX = 200


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class AwareDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every backend (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _ts(**kwargs: Any) -> Any:
    return Field(sa_column=Column(AwareDateTime(), **kwargs))


class ItemStatus(enum.StrEnum):
    """Lifecycle of a feedback item."""

    RECEIVED = "received"
    TRIAGING = "triaging"
    AWAITING_DETAILS = "awaiting_details"
    AWAITING_REPORTER = "awaiting_reporter"
    """The reporter is asked whether an open issue is the same problem."""
    NOT_ACTIONABLE = "not_actionable"
    AWAITING_REVIEW = "awaiting_review"
    APPROVED = "approved"
    FILING = "filing"
    FILED = "filed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"


S = ItemStatus

#: Every legal move; anything else is refused by `ItemRepository.transition`.
TRANSITIONS: dict[ItemStatus, frozenset[ItemStatus]] = {
    S.RECEIVED: frozenset({S.TRIAGING, S.FAILED}),
    S.TRIAGING: frozenset(
        {
            S.AWAITING_REVIEW,
            S.AWAITING_DETAILS,
            S.AWAITING_REPORTER,
            S.NOT_ACTIONABLE,
            S.DUPLICATE,
            S.FAILED,
        }
    ),
    S.AWAITING_DETAILS: frozenset({S.TRIAGING}),
    S.AWAITING_REPORTER: frozenset({S.TRIAGING}),
    S.NOT_ACTIONABLE: frozenset({S.RECEIVED}),
    S.AWAITING_REVIEW: frozenset(
        {S.AWAITING_REVIEW, S.APPROVED, S.REJECTED, S.DUPLICATE, S.EXPIRED, S.WITHDRAWN}
    ),
    S.APPROVED: frozenset({S.FILING, S.FAILED}),
    S.FILING: frozenset({S.FILED, S.FAILED}),
    S.FAILED: frozenset({S.FAILED, S.APPROVED, S.REJECTED, S.RECEIVED, S.EXPIRED, S.WITHDRAWN}),
    S.FILED: frozenset(),
    S.REJECTED: frozenset(),
    S.DUPLICATE: frozenset(),
    S.EXPIRED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

#: Statuses in which nothing more happens to an item.
FINISHED_STATUSES = frozenset(
    {S.FILED, S.REJECTED, S.DUPLICATE, S.EXPIRED, S.NOT_ACTIONABLE, S.WITHDRAWN}
)

#: Statuses in which an item still needs the bot or a maintainer.
OPEN_STATUSES = frozenset(
    {
        S.RECEIVED,
        S.TRIAGING,
        S.AWAITING_DETAILS,
        S.AWAITING_REPORTER,
        S.AWAITING_REVIEW,
        S.APPROVED,
        S.FILING,
        S.FAILED,
    }
)


class SourceKind(enum.StrEnum):
    """How an item reached the bot."""

    CHANNEL = "channel"
    SLASH = "slash"
    CONTEXT_MENU = "context-menu"
    REACTION = "reaction"
    CLI = "cli"


class FeedbackItemBase(SQLModel):
    """Fields set at intake: where the feedback came from and what it said."""

    source_kind: str = Field(max_length=20)
    source_key: str = Field(max_length=120, description="Unique id of the originating event.")
    guild_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    channel_id: int | None = Field(default=None, sa_type=BigInteger)
    message_id: int | None = Field(default=None, sa_type=BigInteger)
    author_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    author_name: str = Field(default="", max_length=200)
    jump_url: str | None = Field(default=None, max_length=300)
    raw_text: str = Field(sa_column=Column(Text, nullable=False))
    kind_hint: str | None = Field(default=None, max_length=20)
    forum_post_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    """The forum post (thread) the item came from; the post follows the item and its issue."""
    title: str | None = Field(default=None, max_length=200)
    """The reporter's own title (a forum post's), used as the issue title."""
    reporter_labels: list[str] | None = Field(default=None, sa_column=Column(JSON))
    """GitHub labels the reporter's forum tags map to."""
    attachments: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    """The message's files (`agents.attachments.Attachment` as dicts): text read, others named."""


class FeedbackItem(FeedbackItemBase, table=True):
    """One piece of feedback and everything decided about it."""

    __tablename__ = "feedback_items"
    __table_args__ = (UniqueConstraint("source_key", name="uq_feedback_items_source_key"),)

    id: int | None = Field(default=None, primary_key=True)
    text_hash: str = Field(max_length=64, index=True)
    status: str = Field(default=ItemStatus.RECEIVED, max_length=20, index=True)
    kind: str | None = Field(default=None, max_length=20)
    severity: str | None = Field(default=None, max_length=20)
    confidence: float | None = None
    actionable: bool | None = None
    needs_review: bool = False
    triage_requested_by: str | None = Field(
        default=None, max_length=200, description="Maintainer who sent the item to triage."
    )
    flow_done: bool = Field(default=False, description="The triage graph has nothing left to do.")
    reasoning: str | None = Field(default=None, sa_column=Column(Text))
    engine: str | None = Field(default=None, max_length=ENGINE_NAME_MAX)
    spec: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    draft_revision: int = 0
    """Counts changes to the draft (`spec`, kind, severity): each drafting, each accepted Edit
    and each Edit folded in. An Edit carries the revision it was opened on and saves only
    while the draft is still at it."""
    duplicates: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    decision: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    review_channel_id: int | None = Field(default=None, sa_type=BigInteger)
    review_message_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    repo: str | None = Field(default=None, max_length=200)
    issue_number: int | None = None
    issue_url: str | None = Field(default=None, max_length=300)
    issue_state: str | None = Field(default=None, max_length=40)
    reminded_at: datetime | None = _ts(nullable=True)
    triage_after: datetime | None = _ts(nullable=True)
    """When a triage deferred by the per-user rate limit may start."""
    edited_text: str | None = Field(default=None, sa_column=Column(Text))
    """The reporter's edit of their message after triage began (shown on the review)."""
    edited_at: datetime | None = _ts(nullable=True)
    reporter_more: str | None = Field(default=None, sa_column=Column(Text))
    """What the reporter added in the details thread after answering (shown and filed)."""
    checkpoints_pruned_at: datetime | None = _ts(nullable=True)
    """When the graph checkpoints of the finished item were deleted (the audit trail stays)."""
    context: str | None = Field(default=None, sa_column=Column(Text))
    """Replies in the item's forum post before its review was posted, one per line."""
    content_removed_at: datetime | None = _ts(nullable=True)
    """When the texts were removed (retention, or withdrawn by the reporter)."""
    unindexed_at: datetime | None = _ts(nullable=True)
    """When the item's document left the duplicate index."""
    filing_retry_at: datetime | None = _ts(nullable=True)
    """When a filing that failed for a passing reason (rate limit, 5xx) is retried by itself."""
    filing_auto_retries: int = 0
    """Automatic filing retries made since a maintainer last approved or retried."""
    created_at: datetime = _ts(nullable=False, default=utcnow)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class AuditEvent(SQLModel, table=True):
    """One row per transition or node run; never updated."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int | None = Field(default=None, foreign_key="feedback_items.id", index=True)
    at: datetime = _ts(nullable=False, default=utcnow)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=60)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    details: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))


class GuildConfig(SQLModel, table=True):
    """Per-guild overrides of the environment defaults, changed with /config."""

    __tablename__ = "guild_configs"

    guild_id: int = Field(sa_type=BigInteger, primary_key=True)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _ts(nullable=False, default=utcnow)
    updated_by: str | None = Field(default=None, max_length=200)


class SyncState(SQLModel, table=True):
    """High-water mark of the GitHub issue sync, per repository."""

    __tablename__ = "sync_state"

    repo: str = Field(primary_key=True, max_length=200)
    since: datetime | None = _ts(nullable=True)
    last_run_at: datetime | None = _ts(nullable=True)
    issues_seen: int = 0
    reconciled_at: datetime | None = _ts(nullable=True)
    """Last full comparison of the indexed issue numbers with GitHub's."""


class GuildDeparture(SQLModel, table=True):
    """A guild that removed the bot; its data is deleted once GUILD_DATA_RETENTION passed."""

    __tablename__ = "guild_departures"

    guild_id: int = Field(sa_type=BigInteger, primary_key=True)
    left_at: datetime = _ts(nullable=False)


class CommandSync(SQLModel, table=True):
    """What was last registered as slash commands in one scope (a guild, or global)."""

    __tablename__ = "command_syncs"

    scope: str = Field(primary_key=True, max_length=100)
    payload_hash: str = Field(max_length=64)
    commands: int = 0
    synced_at: datetime = _ts(nullable=False, default=utcnow)


class Example(SQLModel, table=True):
    """A maintainer's correction (edit or rejection) kept as a labelled example."""

    __tablename__ = "examples"

    id: int | None = Field(default=None, primary_key=True)
    guild_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    item_id: int | None = Field(default=None, foreign_key="feedback_items.id", index=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    kind: str | None = Field(default=None, max_length=20)
    severity: str | None = Field(default=None, max_length=20)
    title: str | None = Field(default=None, max_length=256)
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rejected: bool = False
    created_at: datetime = _ts(nullable=False, default=utcnow)


class LLMMethod(SQLModel, table=True):
    """The structured-output method that works for one model at one endpoint (`auto`)."""

    __tablename__ = "llm_methods"

    key: str = Field(primary_key=True, max_length=64, description="sha256 of endpoint and model.")
    endpoint: str = Field(sa_column=Column(Text, nullable=False))
    model: str = Field(sa_column=Column(Text, nullable=False))
    method: str = Field(max_length=20)
    updated_at: datetime = _ts(nullable=False, default=utcnow)


class OutboxMessage(SQLModel, table=True):
    """Something owed to Discord or GitHub once an item is finished, until it is delivered.

    Written in the transaction that finishes the item (`storage.outbox`); delivered by
    `cogs/approvals/_outbox.py`. `sent_at` is set when delivered or given up (then
    `last_error` says why).
    """

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="feedback_items.id", index=True)
    guild_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    kind: str = Field(max_length=30)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(nullable=False, default=utcnow)
    next_attempt_at: datetime = _ts(nullable=False, default=utcnow)
    sent_at: datetime | None = _ts(nullable=True, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class CommentMirror(SQLModel, table=True):
    """A comment or message mirrored between an item's issue and its Discord post or thread.

    `source` is `github` (an issue comment shown in Discord) or `discord` (the reporter's
    message posted as an issue comment); one row per item and source id, so each is mirrored
    once. `mirrored_id` is what the bot wrote on the other side, once delivered.
    """

    __tablename__ = "comment_mirrors"
    __table_args__ = (
        UniqueConstraint("item_id", "source", "source_id", name="uq_comment_mirrors_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="feedback_items.id", index=True)
    guild_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    source: str = Field(max_length=10)
    source_id: int = Field(sa_type=BigInteger)
    thread_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    """The Discord post or thread the item's comments are shown in."""
    mirrored_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    created_at: datetime = _ts(nullable=False, default=utcnow)
