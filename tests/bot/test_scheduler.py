"""Item deadlines served from the database: once each, on time, with no job per item."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import update

from agents.triage.state import Decision
from bot.scheduler import ReviewScheduler
from storage.db import Database
from storage.items import ItemRepository
from storage.models import FeedbackItem, FeedbackItemBase, ItemStatus, utcnow

OURS, THEIRS = 7, 8
WAIT = 20.0


class _Runner:
    """Records decisions; guild `THEIRS` belongs to another process; `failing` ids raise."""

    def __init__(self) -> None:
        self.decisions: list[tuple[int, str]] = []
        self.failing: set[int] = set()
        self.slow: dict[int, float] = {}
        self.times: dict[int, float] = {}

    def owns_guild(self, guild_id: int | None) -> bool:
        return guild_id != THEIRS

    async def decide(self, item_id: int, decision: Decision) -> Any:
        self.decisions.append((item_id, decision.action))
        self.times[item_id] = asyncio.get_running_loop().time()
        await asyncio.sleep(self.slow.get(item_id, 0))
        if item_id in self.failing:
            raise RuntimeError("the graph is down")
        return SimpleNamespace(accepted=True)


def _settings(**delays: timedelta) -> Any:
    triage = {
        "reminder_after": timedelta(days=1),
        "expires_after": timedelta(days=7),
        "details_timeout": timedelta(hours=6),
        "duplicate_confirm_timeout": timedelta(hours=6),
        **delays,
    }
    return SimpleNamespace(triage=SimpleNamespace(**triage))


@pytest.fixture
async def runner() -> _Runner:
    return _Runner()


def _scheduler(database: Database, runner: _Runner, **delays: timedelta) -> ReviewScheduler:
    services = SimpleNamespace(
        db=database, items=ItemRepository(database), runner=runner, settings=_settings(**delays)
    )
    return ReviewScheduler(services)  # type: ignore[arg-type]


@pytest.fixture
async def running() -> AsyncIterator[list[ReviewScheduler]]:
    started: list[ReviewScheduler] = []
    yield started
    for scheduler in started:
        scheduler.shutdown()


def _start(scheduler: ReviewScheduler, running: list[ReviewScheduler]) -> None:
    scheduler.arm()
    running.append(scheduler)
    scheduler.start()


def _started(
    database: Database, runner: _Runner, running: list[ReviewScheduler], **delays: timedelta
) -> ReviewScheduler:
    scheduler = _scheduler(database, runner, **delays)
    _start(scheduler, running)
    return scheduler


async def _items(
    repo: ItemRepository, first: int, count: int, *path: ItemStatus, guild: int = OURS
) -> list[int]:
    ids = []
    for n in range(first, first + count):
        item, _ = await repo.create(
            item=FeedbackItemBase(
                source_kind="channel", source_key=f"message:{n}", guild_id=guild, raw_text=f"r{n}"
            ),
            actor="t",
        )
        assert item.id is not None
        for status in path:
            assert await repo.transition(item_id=item.id, to=status, actor="t") is not None
        ids.append(item.id)
    return ids


async def _age(database: Database, ids: list[int], by: timedelta) -> None:
    table = FeedbackItem.__table__  # type: ignore[attr-defined]
    moment = utcnow() - by
    stmt = update(table).where(table.c.id.in_(ids)).values(created_at=moment, updated_at=moment)
    await database.write(lambda conn: conn.execute(stmt))


async def _until(predicate: Any, what: str) -> None:
    for _ in range(int(WAIT / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


REVIEW = (ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW)


async def test_overdue_items_are_served_once_without_a_job_per_item(
    database: Database, runner: _Runner, running: list[ReviewScheduler]
) -> None:
    repo = ItemRepository(database)
    overdue = await _items(repo, 0, 230, *REVIEW)
    theirs = await _items(repo, 1000, 5, *REVIEW, guild=THEIRS)
    await _age(database, overdue + theirs, timedelta(days=8))
    later = await _items(repo, 2000, 120, *REVIEW)
    reminded: list[int] = []

    async def remind(item_id: int) -> None:
        reminded.append(item_id)

    scheduler = _scheduler(database, runner)
    scheduler.on_remind = remind
    for item_id in later:
        item = await repo.get(item_id)
        assert item is not None
        scheduler.plan(item)
    _start(scheduler, running)
    await _until(lambda: len(reminded) == len(overdue), "the reminders")
    await _until(lambda: len(runner.decisions) == len(overdue), "the expiries")
    await asyncio.sleep(0.3)

    assert sorted(runner.decisions) == [(item_id, "expire") for item_id in overdue]
    assert sorted(reminded) == overdue, "one reminder each, none for another process's guild"
    marked = [await repo.get(item_id) for item_id in overdue[:3]]
    assert all(item is not None and item.reminded_at is not None for item in marked)
    assert scheduler.job_count == 2, "the next wake-up and the catch-up, whatever the backlog"


async def test_a_planned_deadline_wakes_the_scheduler_on_time(
    database: Database, runner: _Runner, running: list[ReviewScheduler]
) -> None:
    repo = ItemRepository(database)
    scheduler = _started(database, runner, running, details_timeout=timedelta(seconds=1))
    await asyncio.sleep(0.3)
    (item_id,) = await _items(repo, 0, 1, ItemStatus.TRIAGING, ItemStatus.AWAITING_DETAILS)
    item = await repo.get(item_id)
    assert item is not None
    began = asyncio.get_running_loop().time()
    scheduler.plan(item)
    await _until(lambda: runner.decisions, "the end of the wait for details")
    waited = asyncio.get_running_loop().time() - began
    assert runner.decisions == [(item_id, "details")]
    assert 0.5 < waited < 5, waited


async def test_one_failing_deadline_does_not_hold_up_the_others(
    database: Database, runner: _Runner, running: list[ReviewScheduler]
) -> None:
    repo = ItemRepository(database)
    overdue = await _items(repo, 0, 3, ItemStatus.TRIAGING, ItemStatus.AWAITING_REPORTER)
    await _age(database, overdue, timedelta(days=1))
    runner.failing.add(overdue[0])
    scheduler = _started(database, runner, running)
    await _until(lambda: len(runner.decisions) == 3, "every answer's timeout")
    assert sorted(runner.decisions) == [(item_id, "confirm") for item_id in overdue]

    await scheduler.catch_up()  # what is still due (here: all three) is served again
    await _until(lambda: len(runner.decisions) == 6, "the catch-up")


async def test_a_deadline_that_falls_during_a_slow_one_is_served_on_time(
    database: Database, runner: _Runner, running: list[ReviewScheduler]
) -> None:
    repo = ItemRepository(database)
    scheduler = _started(database, runner, running, details_timeout=timedelta(seconds=1))
    (slow,) = await _items(repo, 0, 1, ItemStatus.TRIAGING, ItemStatus.AWAITING_DETAILS)
    runner.slow[slow] = 3.0  # a reminder stuck behind Discord's rate limit, say
    await _plan(repo, scheduler, slow)
    await _until(lambda: slow in runner.times, "the first deadline")
    (later,) = await _items(repo, 1, 1, ItemStatus.TRIAGING, ItemStatus.AWAITING_DETAILS)
    planned = asyncio.get_running_loop().time()
    await _plan(repo, scheduler, later)  # falls while the first one is still being served
    await _until(lambda: later in runner.times, "the second deadline")
    assert runner.times[later] - planned < 2.5, "not held up by the slow one"


async def test_a_hanging_deadline_holds_up_none_of_the_others(
    database: Database, runner: _Runner, running: list[ReviewScheduler]
) -> None:
    repo = ItemRepository(database)
    due = await _items(repo, 0, 3, ItemStatus.TRIAGING, ItemStatus.AWAITING_REPORTER)
    await _age(database, due, timedelta(days=1))
    runner.slow[due[0]] = 3600.0
    _started(database, runner, running)
    await _until(lambda: len(runner.decisions) == 3, "the other answers' timeouts")


async def test_a_failed_filing_waits_for_its_retry_not_its_expiry(
    database: Database, runner: _Runner, running: list[ReviewScheduler]
) -> None:
    repo = ItemRepository(database)
    path = (ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW, ItemStatus.APPROVED)
    (failed,) = await _items(repo, 0, 1, *path, ItemStatus.FILING, ItemStatus.FAILED)
    await _age(database, [failed], timedelta(days=8))  # past the expiry of a waiting item
    await repo.update_fields(item_id=failed, filing_retry_at=utcnow())
    _started(database, runner, running)
    await _until(lambda: runner.decisions, "the retry")
    await asyncio.sleep(0.3)
    assert runner.decisions == [(failed, "retry")]


async def _plan(repo: ItemRepository, scheduler: ReviewScheduler, item_id: int) -> None:
    item = await repo.get(item_id)
    assert item is not None
    scheduler.plan(item)


async def test_a_wake_up_during_a_failed_round_is_not_lost(
    database: Database,
    runner: _Runner,
    running: list[ReviewScheduler],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.scheduler._RETRY_SWEEP", timedelta(seconds=0.5))
    repo = ItemRepository(database)
    (item_id,) = await _items(repo, 0, 1, ItemStatus.TRIAGING, ItemStatus.AWAITING_DETAILS)
    scheduler = _scheduler(database, runner, details_timeout=timedelta(0))
    real_due, calls = scheduler._deadlines.due, 0

    async def due_failing_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.5)  # the item's wake-up comes meanwhile
            raise OSError("database is locked")
        return await real_due(*args, **kwargs)

    scheduler._deadlines.due = due_failing_once  # type: ignore[method-assign]
    _start(scheduler, running)
    await asyncio.sleep(0.1)
    await _plan(repo, scheduler, item_id)
    await _until(lambda: runner.decisions, "the deadline after the failed round")
    assert runner.decisions == [(item_id, "details")]


async def test_an_expiry_that_falls_during_the_items_reminder_follows_it(
    database: Database, runner: _Runner, running: list[ReviewScheduler]
) -> None:
    repo = ItemRepository(database)
    (item_id,) = await _items(repo, 0, 1, *REVIEW)

    async def slow_reminder(_item_id: int) -> None:
        await asyncio.sleep(2.0)

    scheduler = _scheduler(
        database,
        runner,
        reminder_after=timedelta(seconds=0.3),
        expires_after=timedelta(seconds=1),
    )
    scheduler.on_remind = slow_reminder
    _start(scheduler, running)
    await _plan(repo, scheduler, item_id)
    began = asyncio.get_running_loop().time()
    await _until(lambda: runner.decisions, "the expiry")
    assert runner.decisions == [(item_id, "expire")]
    assert asyncio.get_running_loop().time() - began < 6, "not left to the catch-up"
