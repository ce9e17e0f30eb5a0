"""The runner under a backlog: bounded runs, new feedback first, nothing lost on shutdown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.sandbox.fake_github import FakeGitHub
from storage.embeddings import Embedder
from storage.models import ItemStatus, utcnow
from tests.agents.triage._harness import Harness, harness, new_item, poll

SHORT = "The app crashes when I open settings"


async def test_a_resumed_backlog_holds_at_most_the_concurrency_in_runs(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github, concurrency=2) as h:
        ids = await _items(h, 12)
        most = 0

        def watch() -> None:
            nonlocal most
            most = max(most, h.runner.in_flight)

        assert await h.runner.resume_pending() == len(ids)
        watch()
        assert h.runner.in_flight == 2 and h.runner.queued == len(ids) - 2
        while h.runner.in_flight or h.runner.queued:
            watch()
            await asyncio.sleep(0.01)
        assert most == 2
        for item_id in ids:
            item = await h.items.get(item_id)
            assert item is not None and item.status == ItemStatus.AWAITING_REVIEW


async def test_new_feedback_goes_ahead_of_a_resumed_backlog(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github, concurrency=1) as h:
        backlog = await _items(h, 6)
        await h.runner.resume_pending()
        live = await new_item(h, "Please add a dark mode", key="message:live")
        h.runner.submit(live)
        await poll(lambda: _reviewed(h, live))
        order = _review_order(h)
        # The run already started when the new item came finishes first; the new one is next.
        assert order.index(live) <= 1, order
        await poll(lambda: _all_reviewed(h, backlog))


async def test_a_decision_on_a_resumed_item_and_delayed_new_feedback_go_ahead(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github, concurrency=1) as h:
        backlog = await _items(h, 6)
        await h.runner.resume_pending()
        h.runner.submit(backlog[4])  # as `decide` does for a maintainer's click
        held = await new_item(h, "Please add a dark mode", key="message:held")
        h.runner.submit(held, delay=0.05)  # new feedback the rate limit deferred
        await poll(lambda: _all_reviewed(h, [*backlog, held]))
        assert _review_order(h)[:3] == [backlog[0], backlog[4], held], _review_order(h)


async def test_steady_new_feedback_does_not_starve_the_backlog(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github, concurrency=1) as h:
        backlog = await _items(h, 3)
        await h.runner.resume_pending()
        live = [await new_item(h, f"Add export option {n}", key=f"live:{n}") for n in range(8)]
        for item_id in live:
            h.runner.submit(item_id)
        await poll(lambda: _all_reviewed(h, [*backlog, *live]))
        assert backlog[1] in _review_order(h)[:5], _review_order(h)


def _review_order(h: Harness) -> list[int]:
    return [item_id for item_id, event in h.notifier.events if event == "awaiting_review"]


async def test_shutdown_leaves_queued_items_for_the_next_start(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github, concurrency=1) as h:
        ids = await _items(h, 4)
        await h.runner.resume_pending()
        await h.runner.drain(grace_seconds=30)
        assert h.runner.queued == 0 and h.runner.in_flight == 0
        # One ran; the queued ones never started.
        assert (await _statuses(h, ids)).count(ItemStatus.RECEIVED) == 3

    async with harness(db_url, tmp_path, embedder, github) as h:
        await h.runner.resume_pending()
        await poll(lambda: _all_awaiting_review(h, ids))


async def test_deleted_items_leave_the_queue(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github, concurrency=1) as h:
        ids = await _items(h, 3)
        await h.runner.resume_pending()
        h.runner.forget(ids[1:])
        assert h.runner.queued == 0


async def _items(h: Harness, count: int) -> list[int]:
    return [await new_item(h, f"{SHORT} ({n})", key=f"message:{n}") for n in range(count)]


async def _reviewed(h: Harness, item_id: int) -> bool:
    return (item_id, "awaiting_review") in h.notifier.events


async def _all_reviewed(h: Harness, ids: list[int]) -> bool:
    return all((item_id, "awaiting_review") in h.notifier.events for item_id in ids)


async def _all_awaiting_review(h: Harness, ids: list[int]) -> bool:
    return set(await _statuses(h, ids)) == {ItemStatus.AWAITING_REVIEW}


async def _statuses(h: Harness, ids: list[int]) -> list[str | None]:
    return [getattr(await h.items.get(item_id), "status", None) for item_id in ids]


async def test_reconcile_reads_a_waiting_graph_once_until_its_item_changes(
    db_url: str, tmp_path: Path, embedder: Embedder, github: FakeGitHub
) -> None:
    async with harness(db_url, tmp_path, embedder, github, concurrency=2) as h:
        ids = await _items(h, 5)
        for item_id in ids:
            h.runner.submit(item_id)
        await poll(lambda: _all_reviewed(h, ids))
        await poll(lambda: _idle(h))
        reads: list[object] = []
        read_state = h.runner.graph.aget_state

        async def counted(config: object, *args: object, **kwargs: object) -> object:
            reads.append(config)
            return await read_state(config, *args, **kwargs)  # type: ignore[arg-type]

        h.runner.graph.aget_state = counted  # type: ignore[method-assign]
        assert await h.runner.reconcile(older_than=0) == 0
        assert len(reads) == len(ids)
        assert await h.runner.reconcile(older_than=0) == 0
        assert len(reads) == len(ids), "verified pauses are not read again"

        await h.items.update_fields(item_id=ids[0], reminded_at=utcnow())
        assert await h.runner.reconcile(older_than=0) == 0
        assert len(reads) == len(ids) + 1, "a changed item is looked at again"


async def _idle(h: Harness) -> bool:
    return h.runner.in_flight == 0 and h.runner.queued == 0
