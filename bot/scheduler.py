"""Timed work: review reminders, expiry, filing retries and reporters' answers; periodic jobs.

APScheduler runs on the event loop with its in-memory job store (nothing blocking). Item
timers are not jobs of their own: they are deadlines over the items' rows
(`storage/deadlines.py`). One job wakes at the next deadline and starts the sweeper, which
serves every deadline that fell since its last round (each as a task of its own, a few at
once, none for longer than a minute) and arms the next wake-up; a periodic catch-up serves
whatever is still due (a restart, a deadline whose work failed). Memory does not grow
with the number of waiting items, and a restart has nothing to rebuild. Expiry concerns
items awaiting review; a failed filing waits for its retry or a maintainer.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from agents.triage.filing_retry import AUTO_RETRY_ACTOR
from agents.triage.state import Action, Decision
from bot.log import item_context
from bot.services import Services
from storage.deadlines import Deadline, DeadlineRepository
from storage.models import FeedbackItem, ItemStatus

log = logging.getLogger(__name__)

ItemCallback = Callable[[int], Awaitable[None]]

#: How often everything still due is served again, whatever the wake-ups did.
CATCH_UP_EVERY = timedelta(minutes=10)
_PAGE = 100
#: Deadlines served at once; each may take at most `_SERVE_TIMEOUT_SECONDS`.
_AT_ONCE = 4
_SERVE_TIMEOUT_SECONDS = 60.0
_RETRY_SWEEP = timedelta(seconds=30)
_WAKE_JOB = "deadlines"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ReviewScheduler:
    """Reminds maintainers of waiting items, expires the ones nobody answered, and ends
    the waits for reporters' answers and for the next filing attempt."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._aps = AsyncIOScheduler(jobstores={"default": MemoryJobStore()}, timezone=UTC)
        self.on_remind: ItemCallback | None = None
        self._deadlines = DeadlineRepository(services.db)
        self._timers = self._item_timers()
        self._swept_until: datetime | None = None
        self._next_wake: datetime | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._again = False
        self._slots = asyncio.Semaphore(_AT_ONCE)
        self._serving: dict[int, asyncio.Task[None]] = {}
        self._deferred: set[int] = set()
        self._stopped = False

    def _item_timers(self) -> tuple[tuple[Deadline, ItemCallback], ...]:
        s, waiting = self.services.settings.triage, ItemStatus.AWAITING_REVIEW
        expire = self._decides("expire", "no decision in time", "item %s expired")
        details = self._decides(
            "details", "no answer in time", "item %s goes to review without the missing details"
        )
        same_issue = self._decides(
            "confirm",
            "no answer in time",
            "item %s goes to review: no answer about the matching issue",
        )
        # Expiry first: an item overdue for both is expired, not reminded of.
        return (
            (Deadline("expire", (waiting,), "created_at", s.expires_after), expire),
            (
                Deadline("remind", (waiting,), "updated_at", s.reminder_after, "reminded_at"),
                self._remind,
            ),
            (
                Deadline("refile", (ItemStatus.FAILED,), "filing_retry_at", timedelta(0)),
                self._retry_filing,
            ),
            (
                Deadline(
                    "details", (ItemStatus.AWAITING_DETAILS,), "updated_at", s.details_timeout
                ),
                details,
            ),
            (
                Deadline(
                    "same_issue",
                    (ItemStatus.AWAITING_REPORTER,),
                    "updated_at",
                    s.duplicate_confirm_timeout,
                ),
                same_issue,
            ),
        )

    def start(self) -> None:
        """Start running jobs on the current event loop."""
        if not self._aps.running:
            self._aps.start()

    def shutdown(self) -> None:
        """Stop without waiting for running jobs (they are idempotent)."""
        self._stopped = True
        if self._aps.running:
            self._aps.shutdown(wait=False)
        for task in (self._sweeper, *self._serving.values()):
            if task is not None:
                task.cancel()

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

    def arm(self) -> None:
        """Serve everything already due, then keep waking at the next deadline."""
        self._swept_until = None
        self.every("deadlines-catch-up", CATCH_UP_EVERY, self.catch_up)
        self._wake_at(datetime.now(UTC))

    def plan(self, item: FeedbackItem) -> None:
        """Make sure the scheduler wakes when `item`'s next deadline falls."""
        falls = [t for deadline, _ in self._timers if (t := deadline.falls_at(item)) is not None]
        if falls:
            self._wake_at(_aware(min(falls)))

    async def catch_up(self) -> None:
        """Serve every deadline that has fallen, whenever it fell; returns when done."""
        self._swept_until = None
        await asyncio.shield(self._kick())

    async def _on_wake(self) -> None:
        """The wake-up job: starts a sweep and returns at once (it never overlaps itself)."""
        self._kick()

    def _kick(self) -> asyncio.Task[None]:
        """Make the sweeper go round (again, if it is running); the sweeper's task."""
        self._again = True
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_while_due())
        return self._sweeper

    async def _sweep_while_due(self) -> None:
        while self._again:
            self._again = False
            since, now = self._swept_until, datetime.now(UTC)
            self._swept_until, self._next_wake = now, None
            try:
                await self._sweep(since, now)
            except Exception:
                log.exception("could not serve the items' deadlines; trying again shortly")
                self._forget_swept(since)  # nothing of that window is skipped
                self._next_wake = None
                self._wake_at(datetime.now(UTC) + _RETRY_SWEEP)
                return

    def _forget_swept(self, since: datetime | None) -> None:
        """Make the next round start at `since` at the latest (None: from the beginning)."""
        if since is None or self._swept_until is None:
            self._swept_until = None
        else:
            self._swept_until = min(since, self._swept_until)

    async def _sweep(self, since: datetime | None, now: datetime) -> None:
        """Serve the deadlines that fell in (`since`, `now`]; arm the next wake-up."""
        for deadline, serve in self._timers:
            await self._serve(deadline, serve, since, now)
        upcoming = [
            moment
            for deadline, _ in self._timers
            if (moment := await self._deadlines.next_after(deadline, now)) is not None
        ]
        if upcoming:
            self._wake_at(min(upcoming))

    async def _serve(
        self, deadline: Deadline, serve: ItemCallback, since: datetime | None, until: datetime
    ) -> None:
        owns, after_id = self.services.runner.owns_guild, 0
        while True:
            rows = await self._deadlines.due(
                deadline, since=since, until=until, after_id=after_id, limit=_PAGE
            )
            for item_id, guild_id in rows:
                if not owns(guild_id):
                    continue
                if item_id in self._serving:  # by another of its deadlines: again after it
                    self._deferred.add(item_id)
                    continue
                await self._slots.acquire()
                self._serving[item_id] = asyncio.get_running_loop().create_task(
                    self._serve_one(deadline.name, serve, item_id)
                )
            if len(rows) < _PAGE:
                return
            after_id = rows[-1][0]

    async def _serve_one(self, name: str, serve: ItemCallback, item_id: int) -> None:
        """One item's deadline as a task of its own: a slow one holds up no other."""
        try:
            with item_context(item_id):
                async with asyncio.timeout(_SERVE_TIMEOUT_SECONDS):
                    await serve(item_id)
        except TimeoutError:
            log.warning("the %s deadline of item %s took too long; later", name, item_id)
        except Exception:
            log.exception("the %s deadline of item %s failed", name, item_id)
        finally:
            self._serving.pop(item_id, None)
            self._slots.release()
            if item_id in self._deferred and not self._stopped:
                self._deferred.discard(item_id)
                self._forget_swept(None)
                self._kick()

    def _wake_at(self, when: datetime) -> None:
        if self._swept_until is not None and when <= self._swept_until:
            self._swept_until = when - timedelta(microseconds=1)
        if self._next_wake is not None and self._next_wake <= when:
            return
        self._next_wake = when
        self._add_job(
            self._on_wake,
            "date",
            run_date=max(when, datetime.now(UTC)),
            id=_WAKE_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _add_job(self, func: Callable[..., Awaitable[object]], *args: Any, **kwargs: Any) -> None:
        """Add a job from an empty context.

        APScheduler's timers keep the context of whoever added a job, which would put one
        item's id on the log lines of every job that runs after it.
        """
        contextvars.Context().run(self._aps.add_job, func, *args, **kwargs)

    # -- what each deadline does -------------------------------------------------------------

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

    def _decides(self, action: Action, reason: str, done: str) -> ItemCallback:
        """A deadline whose work is the scheduler's decision `action` (`done` logs it)."""

        async def decide(item_id: int) -> None:
            decision = Decision(action=action, actor="scheduler", reason=reason)
            if (await self.services.runner.decide(item_id, decision)).accepted:
                log.info(done, item_id)

        return decide

    async def _retry_filing(self, item_id: int) -> None:
        item = await self.services.items.get(item_id)
        if item is None or item.status != ItemStatus.FAILED or item.filing_retry_at is None:
            return
        if _aware(item.filing_retry_at) > datetime.now(UTC) + timedelta(seconds=1):
            self.plan(item)  # failed again meanwhile, with a later time
            return
        result = await self.services.runner.decide(
            item_id, Decision(action="retry", actor=AUTO_RETRY_ACTOR, reason="automatic retry")
        )
        if result.accepted:
            log.info("item %s: retrying the filing automatically", item_id)
