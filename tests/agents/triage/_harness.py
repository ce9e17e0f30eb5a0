"""A complete triage graph for tests: offline engine, real chromadb, fake GitHub, a database.

Leaving `harness` throws all of it away, so a second `harness` on the same storage is what a
restarted process finds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agents.dedup.finder import DuplicateIndex
from agents.engines.offline import OfflineEngine
from agents.triage.checkpoint import open_checkpointer
from agents.triage.context import TriageContext
from agents.triage.graph import build_graph
from agents.triage.ports import ItemEvent
from agents.triage.runner import TriageRunner
from agents.triage.state import Policy
from bot.github import GitHubClient, RetryPolicy
from bot.sandbox.fake_github import FakeGitHub
from storage.db import Database
from storage.embeddings import Embedder
from storage.items import ItemRepository
from storage.models import FeedbackItem, FeedbackItemBase
from storage.vectors import VectorStore

REPO = "acme/widgets"
BUG = (
    "The app crashes when I open settings since the last update.\n"
    "1. Open the app\n2. Tap Settings\n3. It closes immediately"
)


@dataclass
class RecordingNotifier:
    """Stands in for Discord at the graph's port: remembers what it was told."""

    events: list[tuple[int, ItemEvent]] = field(default_factory=list)

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        self.events.append((item_id, event))


@dataclass
class FlakyNotifier(RecordingNotifier):
    """Fails its first `failures` calls, as Discord does in an outage."""

    failures: int = 0

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("Discord is unreachable")
        await super().item_changed(item_id, event)


@dataclass
class Harness:
    runner: TriageRunner
    items: ItemRepository
    notifier: RecordingNotifier


@asynccontextmanager
async def harness(
    db_url: str,
    data_dir: Path,
    embedder: Embedder,
    github: FakeGitHub,
    notifier: RecordingNotifier | None = None,
    *,
    concurrency: int = 32,
) -> AsyncIterator[Harness]:
    """A complete graph on the given storage; leaving the block throws all of it away."""
    db = Database(db_url)
    items = ItemRepository(db)
    notifier = notifier or RecordingNotifier()
    filer = GitHubClient(
        token=github.token,
        base_url=github.url,
        allowlist=[REPO],
        retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, jitter=0),
    )
    store = await asyncio.to_thread(
        VectorStore.open, data_dir=data_dir, url=None, embedder=embedder
    )
    async with open_checkpointer(database_url=db_url, data_dir=data_dir) as saver:
        context = TriageContext(
            items=items,
            engine=OfflineEngine(embedder),
            notifier=notifier,
            dedup=DuplicateIndex(store, embedder),
            filer=filer,
        )

        async def policy_for(item: FeedbackItem) -> Policy:
            return Policy(repo=REPO, label_map={"bug": "bug", "feature": "enhancement"})

        runner = TriageRunner(
            graph=build_graph(saver),
            context=context,
            policy_for=policy_for,
            retry_delays=(0.05, 0.05),
            concurrency=concurrency,
        )
        try:
            yield Harness(runner, items, notifier)
        finally:
            await runner.drain(grace_seconds=5)
            await db.close()


async def new_item(
    h: Harness, text: str = BUG, key: str = "message:1", *, message_id: int | None = None
) -> int:
    item, _ = await h.items.create(
        item=FeedbackItemBase(
            source_kind="channel",
            source_key=key,
            guild_id=1,
            message_id=message_id,
            author_name="ana",
            raw_text=text,
        ),
        actor="test",
    )
    assert item.id is not None
    return item.id


async def poll(condition: Callable[[], Awaitable[bool]], *, within: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)
