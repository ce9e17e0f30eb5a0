"""The per-user limits of intake: triage starts, the backlog, replies to unusable messages.

Each user may start at most RATE_LIMIT_ITEMS triage runs per RATE_LIMIT_WINDOW (per guild
and user). Over the limit an item is stored and its triage deferred; the deferred start
time is stored with the item (`triage_after`), so after a restart the waiting items drain
at the limit's pace instead of all at once. At most RATE_LIMIT_BACKLOG items of a user may
wait: past it new messages are not picked up (they stay in Discord, where a maintainer can
still send any of them to triage) and the user is told once. Replies to messages the bot
cannot use (emoji only, attachments only) are limited to one per user per window.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta

from agents.triage.runner import TriageRunner
from cogs.intake._ratelimit import Admission, ReplyBudget, TriageRateLimiter
from storage.items import ItemRepository
from storage.pacing import PacingRepository

log = logging.getLogger(__name__)

UNUSABLE_REPLIES_PER_WINDOW = 1


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class TriagePacing:
    """Admits (or refuses) new items per user and restores the plan after a restart."""

    def __init__(
        self,
        *,
        items: ItemRepository,
        pacing: PacingRepository,
        runner: TriageRunner,
        limit: int,
        window: timedelta,
        backlog: int,
    ) -> None:
        self.items = items
        self.pacing = pacing
        self.runner = runner
        self.window = window
        self.limiter = TriageRateLimiter(
            limit=limit, window=window.total_seconds(), backlog=backlog
        )
        self.replies = ReplyBudget(limit=UNUSABLE_REPLIES_PER_WINDOW, window=window.total_seconds())

    def admit(self, key: Hashable) -> Admission:
        """Reserve a start for a new item of `key` (guild, user), or refuse it."""
        return self.limiter.admit(key)

    def release(self, key: Hashable, admission: Admission) -> None:
        """The admitted item was not stored after all (a replayed event)."""
        self.limiter.release(key, admission)

    def waiting(self, key: Hashable) -> int:
        """How many of the user's items wait for their triage to start."""
        return self.limiter.waiting(key)

    @staticmethod
    def deferred_until(admission: Admission) -> datetime | None:
        """The stored start time of a deferred admission."""
        return _moment(admission.start) if admission.deferred else None

    def may_reply(self, key: Hashable) -> bool:
        """Whether one more "I can't use this message" reply to the user fits the window."""
        return self.replies.allow(key)

    async def restore(self) -> int:
        """After a restart: count recent starts, and schedule every item whose triage has
        not started (deferred, or cut off by the stop) at the limit's pace, never earlier
        than planned. Returns how many are scheduled."""
        since = datetime.now(UTC) - self.window
        scheduled = 0
        for paced in await self.pacing.since(since):
            key = (paced.guild_id, paced.author_id)
            if not paced.waiting:
                self.limiter.started(key, paced.start.timestamp())
                continue
            if not self.runner.owns_guild(paced.guild_id):
                continue
            admission = self.limiter.resume(key, not_before=paced.start.timestamp())
            if abs(admission.start - paced.start.timestamp()) > 0.001:
                await self.items.update_fields(
                    item_id=paced.item_id, triage_after=_moment(admission.start)
                )
            self.runner.submit(paced.item_id, delay=admission.delay)
            scheduled += 1
        if scheduled:
            log.info("%d deferred item(s) drain at the rate limit's pace", scheduled)
        return scheduled
