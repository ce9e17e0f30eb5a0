"""Delivers the outbox: what finished items owe Discord and GitHub, at least once, recognised.

Rows are written with the item's final status (`storage.outbox`). They are delivered right
after that write (the node tells the notifier), at start-up (every pending row) and every
`DELIVER_EVERY` (rows due). A row is marked sent once delivered, and every kind is recognised
when it was done already, so a second delivery tells no one twice:

- `review_update` edits the review message to the item's status (an edit is idempotent);
- `reporter_notice` checks the audit trail for `reporter_notified:<event>` first, and writes
  that event in the same transaction that marks the row sent, right after Discord accepted
  the message. Every attempt carries the row's nonce with `enforce_nonce`, so when Discord
  accepted a message whose answer never arrived (a 5xx, a crash), the next attempt within
  Discord's few minutes gets that message back instead of a second one; a server error is
  retried the same way rather than falling back to a DM. The window left: the process dies
  after Discord accepted the message and before that commit, and comes back only after
  Discord forgot the nonce; the reporter is then told a second time;
- `duplicate_comment` looks for the item's marker among the issue's comments first;
- `reaction` adds the bot's reaction (Discord keeps one per user and emoji).

Discord's 403 and 404 and GitHub's refusals end a row with the error; other failures are
retried with a growing delay, `MAX_ATTEMPTS` times at most. Rows of guilds this process does
not own are left to their owner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord

from bot.github import GitHubNotFoundError, GitHubRejectedError, RepoNotAllowedError
from cogs.approvals._embeds import reporter_message
from storage.models import OutboxMessage, utcnow
from storage.outbox import (
    DUPLICATE_COMMENT,
    REACTION,
    REPORTER_NOTICE,
    REVIEW_UPDATE,
    OutboxRepository,
)

if TYPE_CHECKING:
    from bot.services import Services
    from cogs.approvals._notify import ReviewNotifier

log = logging.getLogger(__name__)

#: How often the periodic run looks for rows that are due.
DELIVER_EVERY = timedelta(seconds=30)
#: Attempts before a row is given up.
MAX_ATTEMPTS = 8
#: Pending rows read at a time.
PAGE = 200
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=10)
#: Failures that retrying cannot fix.
PERMANENT = (
    discord.Forbidden,
    discord.NotFound,
    GitHubNotFoundError,
    GitHubRejectedError,
    RepoNotAllowedError,
)

#: What a delivered row adds to the audit trail (item_id, actor, action, details), or None.
Audit = dict[str, Any] | None


class Undeliverable(Exception):  # noqa: N818 (a reason, not a crash)
    """The row can never be delivered; it ends with this reason."""


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 5 s doubling, at most 10 minutes."""
    delay: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(delay, LONGEST_RETRY)


class OutboxDelivery:
    """Sends pending outbox rows through the review notifier and GitHub, one item at a time."""

    def __init__(self, notifier: ReviewNotifier) -> None:
        self.notifier = notifier
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self._handlers: dict[str, Callable[[OutboxMessage], Awaitable[Audit]]] = {
            REVIEW_UPDATE: self._review_update,
            REPORTER_NOTICE: self._reporter_notice,
            DUPLICATE_COMMENT: self._duplicate_comment,
            REACTION: self._reaction,
        }

    def add_kind(self, kind: str, handler: Callable[[OutboxMessage], Awaitable[Audit]]) -> None:
        """Deliver rows of `kind` with `handler` (another feature's kind of delivery)."""
        self._handlers[kind] = handler

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.notifier.services

    @property
    def rows(self) -> OutboxRepository:
        """The outbox repository."""
        return OutboxRepository(self.services.db)

    async def deliver_item(self, item_id: int) -> int:
        """The fast path, right after the final write: the item's rows now; returns how many.

        Never raises: what fails here is left to the periodic run.
        """
        try:
            return await self._deliver_all(await self.rows.pending(item_id=item_id))
        except Exception:
            log.warning("could not deliver the outbox of item %s now", item_id, exc_info=True)
            return 0

    async def deliver_due(self, *, everything: bool = False) -> int:
        """Rows of this process's guilds that are due (or all pending); returns how many sent.

        Args:
            everything: Ignore the retry delays (at start-up).
        """
        delivered = 0
        async for mine in self._own_pages(due_by=None if everything else utcnow()):
            delivered += await self._deliver_all(mine, skip_busy=True)
        if delivered:
            log.info("delivered %d outbox message(s)", delivered)
        return delivered

    async def _own_pages(self, *, due_by: datetime | None) -> AsyncIterator[list[OutboxMessage]]:
        """Pending rows of this process's guilds, a page at a time: rows of guilds another
        process (or nobody, any more) serves never hide this process's own."""
        owns = self.services.runner.owns_guild
        after = 0
        while True:
            rows = await self.rows.pending(due_by=due_by, after_id=after, limit=PAGE)
            if not rows:
                return
            after = rows[-1].id or after
            mine = [row for row in rows if owns(row.guild_id)]
            if mine:
                yield mine
            if len(rows) < PAGE:
                return

    async def _deliver_all(self, rows: list[OutboxMessage], *, skip_busy: bool = False) -> int:
        """Deliver `rows` in order; with `skip_busy`, items being delivered now are left
        for the next run (one item that Discord holds up does not hold up the others)."""
        delivered = 0
        for row in rows:
            lock = self._locks.get(row.item_id)
            if skip_busy and lock is not None and lock.locked():
                continue
            delivered += await self._deliver(row)
        return delivered

    async def _deliver(self, row: OutboxMessage) -> bool:
        """Deliver one row unless another delivery finished it; True when it was sent now."""
        lock = self._locks.setdefault(row.item_id, asyncio.Lock())
        self._waiting[row.item_id] = self._waiting.get(row.item_id, 0) + 1
        try:
            async with lock:
                return await self._deliver_locked(row)
        finally:
            self._waiting[row.item_id] -= 1
            if not self._waiting[row.item_id]:  # nobody holds or awaits the lock
                del self._waiting[row.item_id], self._locks[row.item_id]

    async def _deliver_locked(self, row: OutboxMessage) -> bool:
        assert row.id is not None
        if not await self.rows.is_pending(row.id):
            return False
        handler = self._handlers.get(row.kind)
        try:
            if handler is None:
                raise Undeliverable(f"unknown kind {row.kind!r}")
            audit = await handler(row)
        except (Undeliverable, *PERMANENT) as exc:
            log.info("outbox %s of item %s ends: %s", row.kind, row.item_id, exc)
            await self.rows.mark_sent(row.id, error=_describe(exc))
            return False
        except Exception as exc:
            await self._failed(row, exc)
            return False
        return await self.rows.mark_sent(row.id, audit=audit)

    async def _failed(self, row: OutboxMessage, exc: Exception) -> None:
        assert row.id is not None
        attempts = row.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            log.warning("outbox %s of item %s given up: %s", row.kind, row.item_id, exc)
            await self.rows.mark_sent(row.id, error=f"gave up: {_describe(exc)}")
            return
        log.info("outbox %s of item %s will be retried: %s", row.kind, row.item_id, exc)
        await self.rows.retry_later(
            row.id, error=_describe(exc), at=utcnow() + retry_delay(attempts)
        )

    # -- the kinds ----------------------------------------------------------------------------

    async def _review_update(self, row: OutboxMessage) -> Audit:
        await self.notifier.refresh(row.item_id)
        return None

    async def _reporter_notice(self, row: OutboxMessage) -> Audit:
        item = await self.services.items.get(row.item_id)
        if item is None:
            raise Undeliverable("the item is gone")
        event = str(row.payload.get("event"))
        action = f"reporter_notified:{event}"
        if any(e.action == action for e in await self.services.items.events(row.item_id)):
            return None
        settings = await self.services.guild_settings.resolve(item.guild_id)
        text = reporter_message(item, event)
        if not settings.notify_reporter or text is None:
            return None
        where = await self.notifier.send_to_reporter(
            item, text, nonce=notice_nonce(row), raise_transient=True
        )
        if where is None:
            raise Undeliverable("the reporter cannot be reached")
        return {"item_id": row.item_id, "actor": "bot", "action": action, "details": {"via": where}}

    async def _duplicate_comment(self, row: OutboxMessage) -> Audit:
        github = self.services.github
        if github is None:
            raise Undeliverable("GitHub is not configured")
        repo, number = str(row.payload["repo"]), int(row.payload["issue"])
        if await github.has_item_comment(repo=repo, number=number, item_id=row.item_id):
            return None
        await github.comment(repo=repo, number=number, body=str(row.payload["body"]))
        return {
            "item_id": row.item_id,
            "actor": "bot",
            "action": "duplicate_comment",
            "details": {"issue": number},
        }

    async def _reaction(self, row: OutboxMessage) -> Audit:
        item = await self.services.items.get(row.item_id)
        if item is None:
            raise Undeliverable("the item is gone")
        await self.notifier._mark_not_actionable(item)
        return None


def notice_nonce(row: OutboxMessage) -> str:
    """The nonce of a reporter notice: the same for every attempt of one row (<= 25 chars)."""
    return f"isw-outbox-{row.id}"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]
