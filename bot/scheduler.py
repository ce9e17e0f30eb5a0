"""Timed work: review reminders, expiry and filing retries per item, periodic jobs.

APScheduler runs on the event loop with its in-memory job store (nothing blocking); the
jobs are derived from the database, so `rebuild()` at start recreates all of them.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agents.triage.filing_retry import AUTO_RETRY_ACTOR
from agents.triage.state import Decision
from bot.log import item_context
from bot.services import Services
from storage.models import FeedbackItem, ItemStatus

log = logging.getLogger(__name__)

ItemCallback = Callable[[int], Awaitable[None]]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _for_item(func: ItemCallback, item_id: int) -> None:
    """Run an item's timer with the item's id on its log lines."""
    with item_context(item_id):
        await func(item_id)


class ReviewScheduler:
    """Reminds maintainers of waiting items and expires the ones nobody answered."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.settings = services.settings.triage
        self._aps = AsyncIOScheduler(jobstores={"default": MemoryJobStore()}, timezone=UTC)
        self.on_remind: ItemCallback | None = None

    def start(self) -> None:
        """Start running jobs on the current event loop."""
        if not self._aps.running:
            self._aps.start()

    def shutdown(self) -> None:
        """Stop without waiting for running jobs (they are idempotent)."""
        if self._aps.running:
            self._aps.shutdown(wait=False)

    @property
    def job_count(self) -> int:
        """Jobs currently scheduled."""
        return len(self._aps.get_jobs())

    def every(self, name: str, interval: timedelta, func: Callable[[], Awaitable[object]]) -> None:
        """Run `func` periodically (never two at once)."""
        self._add_job(
            func,
            "interval",
            seconds=interval.total_seconds(),
            id=name,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) + interval,
        )

    def schedule_review(self, item: FeedbackItem) -> None:
        """Plan the reminder and the expiry of an item that awaits review."""
        if item.id is None:
            return
        waiting_since = _aware(item.updated_at)
        if item.reminded_at is None:
            self._at(
                f"remind:{item.id}",
                waiting_since + self.settings.reminder_after,
                self._remind,
                item.id,
            )
        self._at(
            f"expire:{item.id}",
            _aware(item.created_at) + self.settings.expires_after,
            self._expire,
            item.id,
        )

    def schedule_details(self, item: FeedbackItem) -> None:
        """Plan the end of the wait for a reporter's answer to the details questions."""
        if item.id is not None:
            deadline = _aware(item.updated_at) + self.settings.details_timeout
            self._at(f"details:{item.id}", deadline, self._details_timeout, item.id)

    def cancel_details(self, item_id: int) -> None:
        """Forget the details timer of an item whose reporter answered."""
        job = self._aps.get_job(f"details:{item_id}")
        if job is not None:
            job.remove()

    async def _details_timeout(self, item_id: int) -> None:
        result = await self.services.runner.decide(
            item_id, Decision(action="details", actor="scheduler", reason="no answer in time")
        )
        if result.accepted:
            log.info("item %s goes to review without the missing details", item_id)

    def schedule_same_issue(self, item: FeedbackItem) -> None:
        """Plan the end of the wait for the reporter's "is it the same issue?" answer."""
        if item.id is not None:
            deadline = _aware(item.updated_at) + self.settings.duplicate_confirm_timeout
            self._at(f"same_issue:{item.id}", deadline, self._same_issue_timeout, item.id)

    def cancel_same_issue(self, item_id: int) -> None:
        """Forget the timer of an item whose reporter answered."""
        job = self._aps.get_job(f"same_issue:{item_id}")
        if job is not None:
            job.remove()

    async def _same_issue_timeout(self, item_id: int) -> None:
        result = await self.services.runner.decide(
            item_id, Decision(action="confirm", actor="scheduler", reason="no answer in time")
        )
        if result.accepted:
            log.info("item %s goes to review: no answer about the matching issue", item_id)

    def schedule_filing_retry(self, item: FeedbackItem) -> None:
        """Plan the automatic retry of a failed filing, when one is due (`filing_retry_at`)."""
        if item.id is not None and item.filing_retry_at is not None:
            when = _aware(item.filing_retry_at)
            self._at(f"refile:{item.id}", when, self._retry_filing, item.id)

    async def _retry_filing(self, item_id: int) -> None:
        item = await self.services.items.get(item_id)
        if item is None or item.status != ItemStatus.FAILED or item.filing_retry_at is None:
            return
        if _aware(item.filing_retry_at) > datetime.now(UTC) + timedelta(seconds=1):
            self.schedule_filing_retry(item)  # failed again meanwhile, with a later time
            return
        result = await self.services.runner.decide(
            item_id, Decision(action="retry", actor=AUTO_RETRY_ACTOR, reason="automatic retry")
        )
        if result.accepted:
            log.info("item %s: retrying the filing automatically", item_id)

    def cancel_review(self, item_id: int) -> None:
        """Forget the timers of a decided item."""
        for prefix in ("remind", "expire"):
            job = self._aps.get_job(f"{prefix}:{item_id}")
            if job is not None:
                job.remove()

    def _at(self, job_id: str, when: datetime, func: ItemCallback, item_id: int) -> None:
        self._add_job(
            _for_item,
            "date",
            run_date=max(when, datetime.now(UTC)),
            args=[func, item_id],
            id=job_id,
            name=job_id,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _add_job(self, func: Callable[..., Awaitable[object]], *args: Any, **kwargs: Any) -> None:
        """Add a job from an empty context.

        APScheduler's timers keep the context of whoever added a job, which would put one
        item's id on the log lines of every job that runs after it.
        """
        contextvars.Context().run(self._aps.add_job, func, *args, **kwargs)

    async def rebuild(self) -> int:
        """Recreate the timers of every waiting item; returns how many.

        Reminders and expiry of items awaiting review, the automatic retry of failed filings,
        the end of the wait for a reporter's details or answer about a matching issue.
        """
        waiting = await self.services.items.list_by_status(
            [
                ItemStatus.AWAITING_REVIEW,
                ItemStatus.FAILED,
                ItemStatus.AWAITING_DETAILS,
                ItemStatus.AWAITING_REPORTER,
            ]
        )
        owns = self.services.runner.owns_guild
        count = 0
        for item in waiting:
            if not owns(item.guild_id):
                continue
            if item.status == ItemStatus.AWAITING_DETAILS:
                self.schedule_details(item)
            elif item.status == ItemStatus.AWAITING_REPORTER:
                self.schedule_same_issue(item)
            else:
                self.schedule_review(item)
                self.schedule_filing_retry(item)
            count += 1
        return count

    async def _remind(self, item_id: int) -> None:
        item = await self.services.items.get(item_id)
        if (
            item is None
            or item.status != ItemStatus.AWAITING_REVIEW
            or item.reminded_at is not None
        ):
            return
        if self.on_remind is not None:
            await self.on_remind(item_id)
        await self.services.items.update_fields(item_id=item_id, reminded_at=datetime.now(UTC))

    async def _expire(self, item_id: int) -> None:
        result = await self.services.runner.decide(
            item_id, Decision(action="expire", actor="scheduler", reason="no decision in time")
        )
        if result.accepted:
            log.info("item %s expired", item_id)
