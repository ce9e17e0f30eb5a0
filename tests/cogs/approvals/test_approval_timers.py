"""Reminders and expiry of items nobody decided on, and reporter notices for /feedback items."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.models import FeedbackItemBase, ItemStatus, SourceKind

WAIT = 30.0
BUG_REPORT = (
    "The app crashes every time I click the Export button on the settings page. "
    "I expected a CSV file to download but the whole window closes with an error."
)


@pytest.fixture
async def timed_sb(tmp_path: Path, sentence_model: Any) -> AsyncIterator[Sandbox]:
    """A sandbox whose review reminders and expiry come within seconds."""
    env = {"APPROVAL_REMINDER_AFTER": "1s", "APPROVAL_EXPIRES_AFTER": "6s"}
    async with sandbox_stack(
        data_dir=tmp_path / "data", model=sentence_model, extra_env=env
    ) as sandbox:
        yield sandbox


async def test_reminder_then_expiry_edit_the_review(timed_sb: Sandbox, flow_for: Any) -> None:
    sb = timed_sb
    flow = flow_for(sb)
    item, review = await flow.report()
    reminder = await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id != review.id and "waiting for a decision" in m.content,
        timeout=WAIT,
    )
    assert reminder.payload["message_reference"]["message_id"] == str(review.id)
    await sb.wait_for_item(lambda i: i.reminded_at is not None, item_id=item.id, within=WAIT)

    await sb.wait_for_item_status(item.id, ItemStatus.EXPIRED, within=WAIT)
    edited = await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review.id and not flow.approvals_buttons(m.id),
        timeout=WAIT,
    )
    assert "Expired" in str(edited.embeds[0]["fields"])
    assert flow.issues() == []
    sb.discord.assert_never_pinged()


async def _slash_item(sb: Sandbox) -> int:
    """An item as /feedback creates it (no message to reply to), triaged for real."""
    item, created = await sb.services.items.create(
        item=FeedbackItemBase(
            source_kind=SourceKind.SLASH,
            source_key=f"interaction:{sb.discord.state.ids.next()}",
            guild_id=sb.discord.guild_id,
            channel_id=sb.discord.feedback_channel_id,
            author_id=sb.reporter.id,
            author_name=sb.reporter.name,
            raw_text=BUG_REPORT,
        ),
        actor=f"{sb.reporter.name} ({sb.reporter.id})",
    )
    assert created and item.id is not None
    sb.services.runner.submit(item.id)
    return item.id


async def test_slash_item_reporter_gets_a_dm(sb: Sandbox, flow: Any) -> None:
    item_id = await _slash_item(sb)
    review_id = await sb.wait_for_review_message(item_id, within=WAIT)
    review = sb.discord.message(review_id)
    await flow.click(review, "approve", item_id)
    filed = await sb.wait_for_item_status(item_id, ItemStatus.FILED, within=WAIT)
    await sb.discord.state.signal.wait_for(
        lambda: True if sb.discord.dms_to(sb.reporter.id) else None, WAIT, "a DM to the reporter"
    )
    (dm,) = sb.discord.dms_to(sb.reporter.id)
    assert str(filed.issue_url) in dm.content


async def test_slash_item_with_closed_dms_is_told_in_the_channel(sb: Sandbox, flow: Any) -> None:
    sb.discord.block_dms(sb.reporter)
    item_id = await _slash_item(sb)
    review = sb.discord.message(await sb.wait_for_review_message(item_id, within=WAIT))
    opened = await flow.click(review, "reject", item_id)
    await flow.submit(opened, {"reason": "Not planned"}, review)
    await sb.wait_for_item_status(item_id, ItemStatus.REJECTED, within=WAIT)
    notice = await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: m.author_id == sb.discord.bot_user_id and "Not planned" in m.content,
        timeout=WAIT,
    )
    assert sb.reporter.name in notice.content
    assert sb.discord.dms_to(sb.reporter.id) == []
    sb.discord.assert_never_pinged()
