"""Floods over the wire: one user's burst is capped and told once, nobody else waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.discord import FakeUser
from bot.sandbox.stack import Sandbox
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from tests.sandboxes import sandbox_on

LIMIT, BACKLOG, FLOOD = 5, 20, 200
WAIT = 60.0
CALM = (
    "The search box ignores accented letters: searching for cafe does not find café. "
    "Steps: type cafe. I expected café to show up. Version 2.2 on Firefox."
)


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder, db_url: str) -> AsyncIterator[Sandbox]:
    env = {
        "RATE_LIMIT_ITEMS": str(LIMIT),
        "RATE_LIMIT_WINDOW": "10m",
        "RATE_LIMIT_BACKLOG": str(BACKLOG),
    }
    async with sandbox_on(db_url, tmp_path, embedder, **env) as sandbox:
        yield sandbox


async def _items_of(sb: Sandbox, user: FakeUser) -> list[FeedbackItem]:
    everything = await sb.services.items.list_by_status(list(ItemStatus))
    return [i for i in everything if i.author_id == user.id]


def _replies_to(sb: Sandbox, user: FakeUser, words: str) -> list[Any]:
    channel = sb.discord.messages_in(sb.discord.feedback_channel_id)
    theirs = {str(m.id) for m in channel if m.author_id == user.id}
    return [
        m
        for m in channel
        if m.author_id == sb.discord.bot_user_id
        and str((m.payload.get("message_reference") or {}).get("message_id")) in theirs
        and words in m.content
    ]


async def test_a_flood_is_capped_at_the_backlog_told_once_and_delays_nobody_else(
    sb: Sandbox,
) -> None:
    flooder = sb.discord.add_user("flooder")
    posted = [
        await sb.discord.post_message(
            sb.discord.feedback_channel_id,
            flooder,
            f"Report {n}: the export button on page {n} crashes the app with error {1000 + n}.",
        )
        for n in range(FLOOD)
    ]
    calm = sb.discord.add_user("calm")
    message = await sb.discord.post_message(sb.discord.feedback_channel_id, calm, CALM)
    item = await sb.wait_for_item_from_message(int(message["id"]), within=WAIT)
    assert item.triage_after is None, "another user's feedback is not deferred"
    await sb.wait_for_review_message(item.id or 0, within=WAIT)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while len(_replies_to(sb, flooder, "not picking up")) < 1:
        assert loop.time() < deadline, "the flooder was never told"
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    stored = await _items_of(sb, flooder)
    assert len(stored) == LIMIT + BACKLOG
    deferred = [i for i in stored if i.triage_after is not None]
    assert len(deferred) == BACKLOG
    assert all(i.status == ItemStatus.RECEIVED for i in deferred), "they wait for their turn"
    assert sum(1 for i in stored if i.triage_after is None) == LIMIT
    assert len(_replies_to(sb, flooder, "not picking up")) == 1, "told once"
    assert len(_replies_to(sb, flooder, "sending feedback quickly")) == 1
    recorded = {i.message_id for i in stored}
    skipped = [int(p["id"]) for p in posted if int(p["id"]) not in recorded]
    assert len(skipped) == FLOOD - LIMIT - BACKLOG
    assert all(sb.discord.message(m) is not None for m in skipped), "they stay in Discord"
    assert sb.services.runner.held >= BACKLOG
    sb.discord.assert_never_pinged()


async def test_replies_to_unusable_messages_are_limited_per_user(sb: Sandbox) -> None:
    emoji = sb.discord.add_user("emoji-fan")
    for face in ("😀", "🎉🎉", "👍", "🔥🔥🔥"):
        await sb.discord.post_message(sb.discord.feedback_channel_id, emoji, face)
    message = await sb.discord.post_message(sb.discord.feedback_channel_id, emoji, CALM)
    await sb.wait_for_item_from_message(int(message["id"]), within=WAIT)
    await asyncio.sleep(0.5)
    assert len(_replies_to(sb, emoji, "written in words")) == 1
