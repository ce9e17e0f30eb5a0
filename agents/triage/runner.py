"""Runs items through the graph: start, decide, resume after a restart, drain on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agents.attachments import attachments_of, classifier_excerpt
from agents.triage._decisions import STALE_DRAFT, DecisionResult, DecisionsMixin
from agents.triage.context import TriageContext
from agents.triage.pending import pending_decision
from agents.triage.report import report_text
from agents.triage.state import InputState, Policy
from bot.bounded import BoundedCache, KeyedLocks
from bot.log import item_context
from storage.decisions import last_decision_seq
from storage.items import ItemRepository
from storage.models import FeedbackItem, ItemStatus, SourceKind

__all__ = ["RETRY_DELAYS", "STALE_DRAFT", "DecisionResult", "PolicyFor", "TriageRunner"]

log = logging.getLogger(__name__)

S = ItemStatus

#: Statuses in which the graph normally sits in `await_decision`.
_WAITING = frozenset({S.AWAITING_REVIEW, S.FAILED, S.AWAITING_DETAILS, S.AWAITING_REPORTER})
#: Most graph steps one run takes (each decision taken is one), against a loop that stalls.
_MAX_STEPS = 16

#: One start in this many goes to the backlog while new work also waits.
_BACKLOG_EVERY = 4

#: Waiting items whose graph reconcile found at its pause, remembered by their last change
#: (about 100 bytes each); past this many, the oldest are simply looked at again.
SEEN_PAUSED_SIZE = 50_000

#: Waits before running an item again after its run failed (a database or index hiccup);
#: after the last one, the periodic `reconcile` keeps retrying.
RETRY_DELAYS: tuple[float, ...] = (2.0, 10.0, 30.0)

PolicyFor = Callable[[FeedbackItem], Awaitable[Policy]]


class TriageRunner(DecisionsMixin):
    """Owns graph execution: one run per item at a time, bounded concurrency, durable."""

    def __init__(
        self,
        *,
        graph: CompiledStateGraph,  # type: ignore[type-arg]
        context: TriageContext,
        policy_for: PolicyFor,
        concurrency: int = 32,
        owns_guild: Callable[[int | None], bool] = lambda _guild_id: True,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.graph = graph
        self.context = context
        self.items: ItemRepository = context.items
        self.policy_for = policy_for
        self.owns_guild = owns_guild
        self._slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        # Items waiting for a run slot: ids only, however long the backlog (one task per
        # item would hold a coroutine each). New feedback goes ahead of resumed work.
        self._queued: dict[int, None] = {}
        self._backlog: dict[int, None] = {}
        self._live_streak = 0
        self._locks: KeyedLocks[int] = KeyedLocks()
        self._seen_paused: BoundedCache[int, datetime] = BoundedCache(SEEN_PAUSED_SIZE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._held: dict[int, asyncio.TimerHandle] = {}
        self._failures: dict[int, int] = {}
        self._restorers: list[Callable[[], Awaitable[object]]] = []
        self.retry_delays = tuple(retry_delays)
        self._accepting = True

    @staticmethod
    def _config(item_id: int) -> RunnableConfig:
        return {"configurable": {"thread_id": str(item_id)}}

    def _lock(self, item_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        return self._locks(item_id)

    @property
    def locks_in_use(self) -> int:
        """Items whose run lock is held or waited for (idle items keep none)."""
        return len(self._locks)

    @property
    def in_flight(self) -> int:
        """Runs started and not yet finished."""
        return len(self._tasks)

    @property
    def queued(self) -> int:
        """Items waiting for a free run slot (new feedback and resumed work)."""
        return len(self._queued) + len(self._backlog)

    def submit(self, item_id: int, *, delay: float = 0.0, backlog: bool = False) -> None:
        """Run the item in the background (returns at once), after `delay` seconds if given.

        A delayed item is held: `resume_pending` leaves it alone until its time comes.
        At most `concurrency` runs exist at once; the rest wait as ids, `backlog` items
        (resumed, retried, reconciled) behind the others.
        """
        if not self._accepting:
            log.info("shutting down: item %s will be triaged after the restart", item_id)
            return
        if delay > 0:
            held = self._held.pop(item_id, None)
            if held is not None:
                held.cancel()
            loop = asyncio.get_running_loop()
            self._held[item_id] = loop.call_later(delay, self._release, item_id, backlog)
            return
        if item_id in self._held or item_id in self._queued:
            return  # its coming run will see everything there is by then
        if item_id in self._backlog:
            if backlog:
                return
            del self._backlog[item_id]  # a decision on a resumed item: it goes ahead now
        (self._backlog if backlog else self._queued)[item_id] = None
        self._start_queued()

    def _start_queued(self) -> None:
        """Start waiting runs while slots are free: new work first, the backlog every so often.

        Every `_BACKLOG_EVERY`th start goes to the backlog, so steady traffic never starves it.
        """
        while self._accepting and len(self._tasks) < self.concurrency:
            take_backlog = self._backlog and (
                not self._queued or self._live_streak >= _BACKLOG_EVERY - 1
            )
            waiting = self._backlog if take_backlog else self._queued
            if not waiting:
                return
            self._live_streak = 0 if take_backlog else self._live_streak + 1
            item_id = next(iter(waiting))
            del waiting[item_id]
            task = asyncio.get_running_loop().create_task(self._guarded_run(item_id))
            self._tasks.add(task)
            task.add_done_callback(self._run_ended)

    def _run_ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._start_queued()

    def _release(self, item_id: int, backlog: bool) -> None:
        self._held.pop(item_id, None)
        self.submit(item_id, backlog=backlog)

    def cancel_held(self, item_ids: Iterable[int]) -> None:
        """Forget the deferred starts and retries of these items (their data is going)."""
        for item_id in item_ids:
            handle = self._held.pop(item_id, None)
            if handle is not None:
                handle.cancel()
            self._failures.pop(item_id, None)
            self._queued.pop(item_id, None)
            self._backlog.pop(item_id, None)

    @asynccontextmanager
    async def exclusive(self, item_ids: Iterable[int]) -> AsyncIterator[None]:
        """While inside, no run of these items is in progress or starts (it waits)."""
        async with AsyncExitStack() as stack:
            for item_id in sorted(set(item_ids)):
                await stack.enter_async_context(self._lock(item_id))
            yield

    def forget(self, item_ids: Iterable[int]) -> None:
        """Drop what the runner keeps about deleted items (a run still waiting finds none)."""
        self.cancel_held(item_ids)

    @property
    def held(self) -> int:
        """Items whose triage is deferred (rate limit, or a retry after a failed run)."""
        return len(self._held)

    async def _guarded_run(self, item_id: int) -> None:
        with item_context(item_id):
            try:
                await self.run(item_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                self._retry_later(item_id)
            else:
                self._failures.pop(item_id, None)

    def _retry_later(self, item_id: int) -> None:
        """Log the failed run (from its `except` block) and schedule the next attempt."""
        failures = self._failures.get(item_id, 0)
        if failures >= len(self.retry_delays):
            self._failures.pop(item_id, None)
            log.exception("triage run failed again; the periodic reconcile will retry it")
            return
        self._failures[item_id] = failures + 1
        delay = self.retry_delays[failures]
        log.exception("triage run failed; retrying in %.0fs", delay)
        self.submit(item_id, delay=delay, backlog=True)

    async def run(self, item_id: int) -> None:
        """Advance the item's graph as far as it can go now (idempotent).

        Every decision not yet taken is taken, one at a time, in the order accepted.
        """
        async with self._slots, self._lock(item_id):
            for _ in range(_MAX_STEPS):
                if not await self._step(item_id):
                    return
            log.warning("item %s: stopped after %d graph steps in one run", item_id, _MAX_STEPS)

    async def _step(self, item_id: int) -> bool:
        """One graph invocation; False when the graph can go no further now."""
        item = await self.items.get(item_id)
        if item is None or item.flow_done:
            return False
        config = self._config(item_id)
        snapshot = await self.graph.aget_state(config)
        if not snapshot.next:
            # TRIAGING with the graph at rest: the process died after `normalise` moved
            # the item but before the run's first checkpoint was written; start again.
            if item.status not in (ItemStatus.RECEIVED, ItemStatus.TRIAGING):
                return False
            start = InputState(
                item_id=item_id,
                text=report_text(item.title, item.raw_text, item.context),
                kind_hint=item.kind_hint,
                title=item.title,
                labels=list(item.reporter_labels or []),
                force_actionable=item.triage_requested_by is not None,
                can_ask_details=item.source_kind == SourceKind.CHANNEL
                and item.message_id is not None
                and item.forum_post_id is None,
                attachment_text=classifier_excerpt(attachments_of(item.attachments)),
                decision_seq=await last_decision_seq(self.items.db, item_id),
                policy=(await self.policy_for(item)).model_dump(),
            )
            await self._invoke(asdict(start), config)
            return False
        if _is_waiting(snapshot):
            payload = await pending_decision(self.items, item, snapshot)
            if payload is None:
                return False
            await self._invoke(Command(resume=payload), config)
            return True
        await self._invoke(None, config)
        return True

    async def _invoke(self, payload: Any, config: RunnableConfig) -> None:
        await self.graph.ainvoke(payload, config, context=self.context, durability="sync")

    def restore_first(self, restore: Callable[[], Awaitable[object]]) -> None:
        """Run `restore` at the start of `resume_pending`, before the other items are resumed.

        For a feature that re-plans some items itself (the rate limit's deferred starts):
        it runs once the gateway is connected, never while the process connects.
        """
        self._restorers.append(restore)

    def forget_restore(self, restore: Callable[[], Awaitable[object]]) -> None:
        """Undo `restore_first` (a feature unloaded)."""
        with contextlib.suppress(ValueError):
            self._restorers.remove(restore)

    async def resume_pending(self) -> int:
        """After a restart: schedule every item whose graph still has work; returns how many.

        Called once the gateway is connected: work left from before never holds the
        connection back. The `restore_first` callbacks run first, so items they defer are
        left to them.
        """
        for restore in list(self._restorers):
            try:
                await restore()
            except Exception:
                log.exception("could not re-plan deferred items; they are resumed now instead")
        count = 0
        for item_id, guild_id, *_ in await self.items.unfinished():
            if item_id in self._held or not self.owns_guild(guild_id):
                continue
            self.submit(item_id, backlog=True)
            count += 1
        log.info("resuming %d unfinished item(s)", count)
        return count

    async def reconcile(self, *, older_than: float = 60.0) -> int:
        """Periodic safety net: re-run items stuck mid-graph (a failed step, a lost task).

        Items paused for a maintainer or a reporter, held by the rate limit, running now,
        or touched in the last `older_than` seconds are left alone. An item whose status
        says "waiting" but whose graph never reached the pause (its review failed to post),
        or one `approved` or `filing` with nothing running it, is re-run.
        A graph found at its pause is not read again until its item changes (every
        decision changes it). Returns how many were re-submitted.
        """
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        count = 0
        for item_id, guild_id, status, updated_at in await self.items.unfinished():
            if item_id in self._held or not self.owns_guild(guild_id):
                continue
            if self._locks.locked(item_id):
                continue  # its graph is running now
            if _aware(updated_at) > cutoff or await self._paused(item_id, status, updated_at):
                continue
            self.submit(item_id, backlog=True)
            count += 1
        if count:
            log.info("reconciling %d stalled item(s)", count)
        return count

    async def _paused(self, item_id: int, status: ItemStatus, updated_at: datetime) -> bool:
        """The item waits for a person, and its graph sits at that pause."""
        if status not in _WAITING:
            return False
        if self._seen_paused.get(item_id) == updated_at:
            return True
        item = await self.items.get(item_id)
        if item is None or item.updated_at != updated_at:
            return True  # changed meanwhile: looked at again next time
        snapshot = await self.graph.aget_state(self._config(item_id))
        if _is_waiting(snapshot) and await pending_decision(self.items, item, snapshot) is None:
            self._seen_paused.put(item_id, updated_at)
            return True
        return False

    async def drain(self, grace_seconds: float) -> None:
        """Stop taking work and give running nodes `grace_seconds` to reach a checkpoint."""
        self._accepting = False
        for handle in self._held.values():
            handle.cancel()
        self._held.clear()
        self._queued.clear()  # stored, so resumed after the restart
        self._backlog.clear()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _is_waiting(snapshot: Any) -> bool:
    return any(task.interrupts for task in snapshot.tasks)
