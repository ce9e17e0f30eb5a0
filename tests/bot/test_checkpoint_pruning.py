"""Finished items lose their graph checkpoints (retention job); the audit trail stays."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.retention import RetentionJob
from bot.sandbox.stack import Sandbox
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from tests.sandboxes import sandbox_on

WAIT = 30.0
BUG = (
    "The invoice PDF shows the wrong currency symbol for Swiss francs. Steps: create an "
    "invoice in CHF. I expected CHF, it shows EUR. Version 4.0 on Windows 11."
)
OTHER_BUG = (
    "Search ignores accents: when I search for 'resume' the 'résumé' page is missing. "
    "Expected it listed. Version 4.0 on macOS."
)


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder, db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox_on(db_url, tmp_path, embedder) as sandbox:
        yield sandbox


async def _in_review(sb: Sandbox, text: str) -> tuple[FeedbackItem, int]:
    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, sb.reporter, text)
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.id is not None
    review_id = await sb.wait_for_review_message(item.id, within=WAIT)
    return await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW), review_id


async def _runs_done(sb: Sandbox) -> None:
    for _ in range(int(WAIT / 0.05)):
        if not sb.services.runner.in_flight:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("graph runs still going")


async def _checkpoints(sb: Sandbox, item_id: int) -> int:
    saver = sb.services.runner.graph.checkpointer
    assert saver is not None and not isinstance(saver, bool)
    config = {"configurable": {"thread_id": str(item_id)}}
    return len([c async for c in saver.alist(config)])  # type: ignore[arg-type]


async def test_checkpoints_of_a_filed_item_are_pruned_and_its_audit_trail_stays(
    sb: Sandbox,
) -> None:
    filed, review_id = await _in_review(sb, BUG)
    waiting, _ = await _in_review(sb, OTHER_BUG)
    assert filed.id is not None and waiting.id is not None
    shown = sb.discord.component_id(review_id, f"approvals:approve:{filed.id}")
    click = await sb.discord.click_button(review_id, shown, sb.maintainer)
    await click.wait_response(timeout=5)
    await sb.wait_for_item(lambda i: i.flow_done, item_id=filed.id, within=WAIT)
    await _runs_done(sb)
    assert await _checkpoints(sb, filed.id) > 0
    trail = [(e.action, e.to_status) for e in await sb.services.items.events(filed.id)]

    job = sb.services.extras["retention"]
    assert isinstance(job, RetentionJob)
    assert (await job.run()).pruned == 1

    assert await _checkpoints(sb, filed.id) == 0
    assert await _checkpoints(sb, waiting.id) > 0, "an undecided item keeps its checkpoints"
    after = [(e.action, e.to_status) for e in await sb.services.items.events(filed.id)]
    assert after == trail
    item = await sb.item(filed.id)
    assert item is not None and item.status == ItemStatus.FILED
    assert item.checkpoints_pruned_at is not None
    assert (await job.run()).pruned == 0, "pruned once"
