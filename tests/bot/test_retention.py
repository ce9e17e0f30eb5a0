"""Retention over the wire: departed guilds, old texts, rejected feedback in the index."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.retention import RetentionJob
from bot.sandbox.stack import Sandbox
from storage.embeddings import Embedder
from storage.guild_departures import GuildDepartureRepository
from storage.models import FeedbackItem, ItemStatus, utcnow
from tests.sandboxes import sandbox_on

WAIT = 30.0
GUILD_RETENTION_SECONDS = 2
BUG = (
    "The invoice PDF shows the wrong currency symbol for Swiss francs. Steps: create an "
    "invoice in CHF. I expected CHF, it shows EUR. Version 4.0 on Windows 11."
)
PRAISE = "Thank you all, the new invoice editor is lovely!"


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder, db_url: str) -> AsyncIterator[Sandbox]:
    env = {"GUILD_DATA_RETENTION": f"{GUILD_RETENTION_SECONDS}s", "DATA_RETENTION": "60d"}
    async with sandbox_on(db_url, tmp_path, embedder, **env) as sandbox:
        yield sandbox


def _job(sb: Sandbox) -> RetentionJob:
    job = sb.services.extras["retention"]
    assert isinstance(job, RetentionJob)
    return job


async def _settled(sb: Sandbox, text: str, status: ItemStatus) -> FeedbackItem:
    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, sb.reporter, text)
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    if status == ItemStatus.AWAITING_REVIEW:
        await sb.wait_for_review_message(item.id or 0, within=WAIT)
    return await sb.wait_for_item_status(item.id or 0, status, within=WAIT)


async def _age(sb: Sandbox, item_id: int, days: int) -> None:
    table = FeedbackItem.__table__  # type: ignore[attr-defined]
    stmt = update(table).where(table.c.id == item_id)
    moment = utcnow() - timedelta(days=days)
    await sb.services.db.write(lambda conn: conn.execute(stmt.values(updated_at=moment)))


async def _departed(sb: Sandbox, *, expected: bool) -> None:
    departures = GuildDepartureRepository(sb.services.db)
    for _ in range(200):
        left = await departures.left_before(utcnow() + timedelta(seconds=1))
        if (sb.discord.guild_id in left) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"departure recorded: {not expected}")


async def test_a_guild_that_removed_the_bot_loses_its_data_after_the_retention(
    sb: Sandbox,
) -> None:
    item = await _settled(sb, BUG, ItemStatus.AWAITING_REVIEW)
    guild = sb.discord.guild_id
    await sb.services.guild_configs.update(
        guild_id=guild, changes={"ask_for_details": False}, actor="maya"
    )
    await sb.discord.remove_bot()
    await _departed(sb, expected=True)

    assert (await _job(sb).run()).guilds == [], "not before GUILD_DATA_RETENTION"
    assert await sb.item(item.id or 0) is not None
    await asyncio.sleep(GUILD_RETENTION_SECONDS + 0.5)
    assert (await _job(sb).run()).guilds == [guild]
    assert await sb.item(item.id or 0) is None
    assert await sb.services.guild_configs.get(guild) == {}
    assert sb.services.dedup is not None
    assert await sb.services.dedup.store.get(sb.repo, [f"feedback:{item.id}"]) == {}
    await _departed(sb, expected=False)


async def test_a_guild_that_adds_the_bot_back_in_time_keeps_its_data(sb: Sandbox) -> None:
    item = await _settled(sb, BUG, ItemStatus.AWAITING_REVIEW)
    await sb.discord.remove_bot()
    await _departed(sb, expected=True)
    await sb.discord.add_bot_back()
    await _departed(sb, expected=False)
    await asyncio.sleep(GUILD_RETENTION_SECONDS + 0.5)
    assert (await _job(sb).run()).guilds == []
    assert await sb.item(item.id or 0) is not None


async def test_old_texts_go_and_rejected_feedback_leaves_the_index(sb: Sandbox) -> None:
    praise = await _settled(sb, PRAISE, ItemStatus.NOT_ACTIONABLE)
    rejected = await _settled(sb, BUG, ItemStatus.AWAITING_REVIEW)
    waiting = await _settled(
        sb, BUG.replace("Swiss francs", "Danish kroner"), ItemStatus.AWAITING_REVIEW
    )
    opened = await sb.discord.click_button(
        rejected.review_message_id or 0, f"approvals:reject:{rejected.id}", sb.maintainer
    )
    await opened.wait_response(timeout=5)
    assert opened.callback is not None and opened.callback.custom_id is not None
    await sb.discord.submit_modal(
        opened.callback.custom_id,
        {"reason": ""},
        sb.maintainer,
        message_id=rejected.review_message_id,
    )
    await sb.wait_for_item(lambda i: i.flow_done, item_id=rejected.id, within=WAIT)
    dedup = sb.services.dedup
    assert dedup is not None
    assert await dedup.store.get(sb.repo, [f"feedback:{rejected.id}"])
    for item_id, days in ((praise.id, 61), (rejected.id, 31), (waiting.id, 400)):
        await _age(sb, item_id or 0, days)

    run = await _job(sb).run()

    assert (run.texts, run.unindexed) == (1, 1)
    assert await dedup.store.get(sb.repo, [f"feedback:{rejected.id}"]) == {}
    found = await dedup.find(BUG, repo=sb.repo, k=10)
    assert f"feedback:{rejected.id}" not in {m.id for m in found.matches}
    emptied = await sb.item(praise.id or 0)
    assert emptied is not None and emptied.raw_text == "" and emptied.content_removed_at
    assert emptied.status == ItemStatus.NOT_ACTIONABLE
    kept = await sb.item(rejected.id or 0)
    assert kept is not None and kept.raw_text == BUG, "31 days: only out of the index"
    unfinished = await sb.item(waiting.id or 0)
    assert unfinished is not None and unfinished.raw_text, "waiting items keep their texts"
    assert (await _job(sb).run()).unindexed == 0, "done once"
