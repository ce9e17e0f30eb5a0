"""The duplicate index follows GitHub: deleted, transferred and spam issues leave it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.reconcile import IndexReconciler
from bot.sandbox.stack import Sandbox
from storage.db import Database
from storage.embeddings import Embedder
from storage.sync_state import SyncStateRepository
from tests.sandboxes import sandbox_on

CRASH = (
    "The app crashes every time I export my project to CSV from the settings page; "
    "the window closes with an unhandled exception."
)


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder, db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox_on(db_url, tmp_path, embedder, GITHUB_RECONCILE_INTERVAL="1s") as sandbox:
        yield sandbox


def _listings(sb: Sandbox) -> int:
    return len(sb.github.requests_to("GET", f"/repos/{sb.repo}/issues"))


async def test_deleted_transferred_and_spam_issues_leave_the_index_at_the_next_sync(
    sb: Sandbox,
) -> None:
    fake, repo = sb.github, sb.repo
    fake.add_repo("acme/elsewhere")
    crash = fake.add_issue(repo, title="Export to CSV crashes the app", body=CRASH)
    moved = fake.add_issue(repo, title="CSV export closes the window", body=CRASH)
    spam = fake.add_issue(repo, title="Crash when exporting CSV files", body=CRASH)
    kept = fake.add_issue(repo, title="Exporting a CSV crashes on Windows", body=CRASH)
    sync = sb.services.extras["issue_sync"]
    await sync()
    dedup = sb.services.dedup
    assert dedup is not None
    before = await dedup.find(CRASH, repo=repo, k=10)
    assert {crash.number, moved.number, spam.number, kept.number} <= {
        m.number for m in before.matches
    }

    fake.delete_issue(repo, crash.number)
    fake.transfer_issue(repo, moved.number, "acme/elsewhere")
    fake.label_issue(repo, spam.number, "spam")
    await asyncio.sleep(1.1)  # GITHUB_RECONCILE_INTERVAL
    listed_before = _listings(sb)
    await sync()

    after = await dedup.find(CRASH, repo=repo, k=10)
    assert {m.number for m in after.matches} == {kept.number}
    # One page for the changes since the last sync, one for the full list of numbers.
    assert _listings(sb) - listed_before == 2, "a request per 100 issues"

    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, sb.reporter, CRASH)
    item = await sb.wait_for_item_from_message(int(posted["id"]))
    assert item.id is not None
    await sb.wait_for_review_message(item.id, within=30)
    reviewed = await sb.item(item.id)
    assert reviewed is not None
    offered = {m.get("number") for m in (reviewed.duplicates or {}).get("matches") or []}
    assert offered & {crash.number, moved.number, spam.number} == set()
    assert kept.number in offered


async def test_the_full_comparison_waits_for_its_interval(database: Database) -> None:
    state = SyncStateRepository(database)
    hourly = IndexReconciler(None, state, None, interval=timedelta(hours=1))  # type: ignore[arg-type]
    assert await hourly.due("acme/widgets"), "never compared yet"
    await state.save(repo="acme/widgets", since=None, issues_seen=3)
    assert await hourly.due("acme/widgets")
    await state.mark_reconciled(repo="ACME/widgets")
    assert not await hourly.due("acme/widgets")
    stored = await state.get(repo="acme/widgets")
    assert stored is not None and stored.issues_seen == 3 and stored.reconciled_at is not None
    await state.save(repo="acme/widgets", since=None, issues_seen=5)
    assert not await hourly.due("acme/widgets"), "a sync keeps the comparison time"
    every_time = IndexReconciler(None, state, None, interval=timedelta(0))  # type: ignore[arg-type]
    assert await every_time.due("acme/widgets")
