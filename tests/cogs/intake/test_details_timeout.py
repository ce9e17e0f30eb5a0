"""An unanswered request for details: the scheduler sends the report to review, incomplete."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder
from storage.models import ItemStatus


@pytest.fixture(scope="module")
async def sb(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sandbox]:
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("details-timeout"),
        model=embedder.model,
        extra_env={"ASK_FOR_DETAILS": "true", "DETAILS_TIMEOUT": "2s"},
    ) as sandbox:
        yield sandbox


async def test_no_answer_in_time_sends_the_report_to_review_marked_incomplete(
    sb: Sandbox,
) -> None:
    reporter = sb.discord.add_user("noa")
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id, reporter, "the app crashes all the time"
    )
    message_id = int(posted["id"])
    item = await sb.wait_for_item_from_message(message_id)
    assert item.id is not None
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_DETAILS)
    await sb.discord.wait_for_message(
        message_id, lambda m: m.author_id == sb.discord.bot_user.id, timeout=20
    )

    reviewed = await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW)
    assert reviewed.needs_review and "incomplete" in (reviewed.reasoning or "")
    review = await sb.discord.wait_for_message(
        sb.discord.review_channel_id, lambda m: bool(m.payload.get("embeds")), timeout=20
    )
    assert review is not None
    sb.discord.assert_never_pinged()
