"""Asking for missing details over the wire: a thread on the report, the reporter's answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sandbox.stack import Sandbox, sandbox_stack
from cogs.intake._details import THREAD_NAME
from storage.embeddings import Embedder
from storage.models import ItemStatus


@pytest.fixture(scope="module")
async def sb(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sandbox]:
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("details"),
        model=embedder.model,
        extra_env={"ASK_FOR_DETAILS": "true"},
    ) as sandbox:
        yield sandbox


async def test_reporter_answers_in_the_thread_and_the_report_goes_to_review(sb: Sandbox) -> None:
    reporter, bystander = sb.discord.add_user("rin"), sb.discord.add_user("sam")
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id, reporter, "the app crashes all the time @everyone"
    )
    message_id = int(posted["id"])
    item = await sb.wait_for_item_from_message(message_id)
    assert item.id is not None
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_DETAILS)

    asked = await sb.discord.wait_for_message(
        message_id, lambda m: m.author_id == sb.discord.bot_user.id, timeout=20
    )
    threads = sb.discord.threads_in(sb.discord.feedback_channel_id)
    assert [t["name"] for t in threads] == [THREAD_NAME] and int(threads[0]["id"]) == message_id
    assert "1. " in asked.content and "step by step" in asked.content
    assert not [r for r in sb.discord.messages_in(sb.discord.review_channel_id)]

    await sb.discord.post_message(message_id, bystander, "same here!")
    await sb.discord.post_message(
        message_id, reporter, "1. open settings 2. tap export. Version 2.1 on Android 14"
    )
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW)
    review = await sb.discord.wait_for_message(
        sb.discord.review_channel_id, lambda m: bool(m.payload.get("embeds")), timeout=20
    )
    assert review is not None
    assert "Android 14" in str(review.embeds[0]["fields"]), "the answer is shown for review"
    items = await sb.services.items.list_by_status(list(ItemStatus))
    assert [i.id for i in items] == [item.id]  # neither thread reply became feedback
    sb.discord.assert_never_pinged()


async def test_maintainers_can_switch_it_off(sb: Sandbox) -> None:
    await sb.services.guild_settings.change(
        guild_id=sb.discord.guild_id, key="ask_for_details", raw="false", actor="test"
    )
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id, sb.discord.add_user("kai"), "login is broken"
    )
    item = await sb.wait_for_item_from_message(int(posted["id"]))
    assert item.id is not None
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW)
