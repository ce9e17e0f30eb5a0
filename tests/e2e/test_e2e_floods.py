"""A flood, a kill and a restart: the deferred items drain at the limit's pace, none lost.

The limiter plans starts exactly; the measured start (the item's move to `triaging`) comes a
little later, by however long the run waits for the process (more on a loaded machine), so
the windows are checked with a tolerance well below the window itself.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from storage.models import FeedbackItem, FeedbackItemBase, ItemStatus
from tests.e2e.harness import Deployment, complete, deployment

pytestmark = pytest.mark.slow

LIMIT, WINDOW, BACKLOG, SENT = 2, 10.0, 4, 10
JITTER = 2.5
ENV = {
    "RATE_LIMIT_ITEMS": str(LIMIT),
    "RATE_LIMIT_WINDOW": f"{WINDOW:.0f}s",
    "RATE_LIMIT_BACKLOG": str(BACKLOG),
}


async def _stored(deployed: Deployment, author_id: int) -> list[FeedbackItem]:
    everything = await deployed.items.list_by_status(list(ItemStatus))
    return [i for i in everything if i.author_id == author_id]


async def _triage_start(deployed: Deployment, item: FeedbackItem) -> float:
    events = await deployed.items.events(item.id or 0)
    return min(e.at.timestamp() for e in events if e.to_status == ItemStatus.TRIAGING)


async def test_deferred_items_drain_at_the_limits_pace_after_a_kill(
    backend: str, tmp_path: Path
) -> None:
    async with deployment(tmp_path, backend=backend, extra_env=ENV) as deployed:
        user = deployed.new_user("flood")
        for n in range(SENT):
            await deployed.post(user, complete(f"The report page {n} crashes on load."))

        async def told() -> bool:
            return any(
                "not picking up" in m.content
                for m in deployed.discord.messages_in(deployed.discord.feedback_channel_id)
            )

        async def admitted() -> list[FeedbackItem]:
            found = await _stored(deployed, user.id)
            return found if len(found) == LIMIT + BACKLOG else []

        await deployed.poll(told, what="the notice that the backlog is full")
        stored = await deployed.poll(admitted, what="the admitted items")
        await deployed.process.kill()
        waiting = [i for i in stored if i.triage_after is not None]
        assert len(waiting) == BACKLOG

        await deployed.process.restart()
        for item in stored:
            await deployed.wait_status(item.id or 0, ItemStatus.AWAITING_REVIEW, within=120)
        starts = sorted([await _triage_start(deployed, item) for item in stored])
        for first, later in zip(starts, starts[LIMIT:], strict=False):
            assert later - first >= WINDOW - JITTER, (
                f"more than {LIMIT} starts in a window: {starts}"
            )
        for item in waiting:
            assert item.triage_after is not None
            assert await _triage_start(deployed, item) >= item.triage_after.timestamp() - JITTER
        assert len(await _stored(deployed, user.id)) == LIMIT + BACKLOG


#: Items left to triage when the process starts: enough to keep it busy for minutes.
BACKLOG_AT_START = 1000


async def _stored_while_stopped(deployed: Deployment, count: int) -> list[int]:
    """`count` channel messages stored as received, as if the process died right after."""
    user = deployed.new_user("backlog")
    ids = []
    for n in range(count):
        item, _ = await deployed.items.create(
            item=FeedbackItemBase(
                source_kind="channel",
                source_key=f"message:{8_000_000_000 + n}",
                guild_id=deployed.discord.guild_id,
                channel_id=deployed.discord.feedback_channel_id,
                message_id=8_000_000_000 + n,
                author_id=user.id,
                author_name=user.name,
                raw_text=complete(f"Exporting report {n} to CSV fails with an error."),
            ),
            actor="test",
        )
        ids.append(item.id or 0)
    return ids


async def test_a_large_backlog_waits_until_the_gateway_is_connected(
    backend: str, tmp_path: Path
) -> None:
    """Work left from before the restart must not hold the connection (and health) back."""
    env = {"RATE_LIMIT_ITEMS": "1000000"}
    async with deployment(tmp_path, backend=backend, extra_env=env) as deployed:
        assert await deployed.process.terminate(timeout=15) == 0
        backlog = await _stored_while_stopped(deployed, BACKLOG_AT_START)
        hub = deployed.discord.hub
        identified = len(hub.identifies)

        async def connected_at() -> float:
            while len(hub.identifies) == identified:  # noqa: ASYNC110 - the hub signals no IDENTIFY
                await asyncio.sleep(0.01)
            return time.time()

        watcher = asyncio.create_task(connected_at())
        await deployed.process.restart(ready_timeout=300)
        connected = await watcher
        await deployed.wait_status(backlog[0], ItemStatus.AWAITING_REVIEW, within=120)
        first = min([await _triage_start(deployed, item) for item in await _first(deployed, 20)])
        assert first >= connected - 0.5, (
            f"triage of the backlog started {connected - first:.1f}s before the gateway connected"
        )


async def _first(deployed: Deployment, count: int) -> list[FeedbackItem]:
    """The first `count` items that have started triage."""
    started = await deployed.items.list_by_status(
        [ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW, ItemStatus.NOT_ACTIONABLE]
    )
    return sorted(started, key=lambda item: item.id or 0)[:count]
