"""Per-item locks and caches stay as small as the work in progress, however many items pass."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.bounded import BoundedCache, KeyedLocks
from bot.sandbox.stack import Sandbox
from storage.embeddings import Embedder
from storage.models import ItemStatus
from tests.sandboxes import sandbox_on

WAIT = 30.0
REPORTS = 6


async def test_a_key_lock_serialises_and_leaves_nothing_behind() -> None:
    locks: KeyedLocks[int] = KeyedLocks()
    order: list[str] = []

    async def work(name: str) -> None:
        async with locks(1):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(work("a"), work("b"), *(work(f"k{n}") for n in range(3)))
    assert order[0:2] == ["a in", "a out"] and order[2:4] == ["b in", "b out"]
    assert len(locks) == 0


async def test_a_cancelled_waiter_does_not_keep_the_key() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    async with locks("x"):
        waiter = asyncio.create_task(locks("x").__aenter__())
        await asyncio.sleep(0)
        assert len(locks) == 1 and locks.locked("x")
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
    assert len(locks) == 0 and not locks.locked("x")


def test_the_cache_forgets_the_least_recently_used() -> None:
    cache: BoundedCache[int, int | None] = BoundedCache(3)
    for key in range(3):
        cache.put(key, key * 10)
    assert cache.get(0) == 0  # 0 is now the most recently used
    cache.put(3, None)
    assert 1 not in cache and 3 in cache and cache.get(3) is None
    for key in range(100):
        cache.put(100 + key, key)
    assert len(cache) == 3


async def test_lock_maps_do_not_grow_with_the_items_processed(
    tmp_path: Path, embedder: Embedder, db_url: str
) -> None:
    async with sandbox_on(db_url, tmp_path, embedder) as sb:
        await _file_reports(sb)
        notifier = getattr(sb.bot.get_cog("Approvals"), "notifier")  # noqa: B009
        for _ in range(100):  # the last review edits may still be on their way
            if sb.services.runner.locks_in_use == notifier.locks_in_use == 0:
                break
            await asyncio.sleep(0.05)
        assert (sb.services.runner.locks_in_use, notifier.locks_in_use) == (0, 0)
        # Every listener reads raw events: no copy of each message seen or sent is kept.
        assert not sb.bot.cached_messages


async def _file_reports(sb: Sandbox) -> None:
    """Several bug reports through review to GitHub."""
    items = []
    for n in range(REPORTS):
        posted = await sb.discord.post_message(
            sb.discord.feedback_channel_id,
            sb.discord.add_user(f"user{n}"),
            f"Crash number {n}: the app closes when I tap export on screen {n}. "
            f"Expected a file, got an error. Version 3.{n} on Android.",
        )
        items.append(await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT))
    for item in items:
        assert item.id is not None
        review_id = await sb.wait_for_review_message(item.id, within=WAIT)
        await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW, within=WAIT)
        shown = sb.discord.component_id(review_id, f"approvals:approve:{item.id}")
        click = await sb.discord.click_button(review_id, shown, sb.maintainer)
        await click.wait_response(timeout=5)
    for item in items:
        await sb.wait_for_item_status(item.id or 0, ItemStatus.FILED, within=WAIT)
    for _ in range(int(WAIT / 0.05)):
        if not sb.services.runner.in_flight:
            return
        await asyncio.sleep(0.05)
