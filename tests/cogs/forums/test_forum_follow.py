"""The post follows the issue: tags, links and archiving as items are decided and issues change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.sandbox.discord import StoredMessage
from bot.sandbox.stack import Sandbox
from storage.models import FeedbackItem, ItemStatus
from tests.cogs.approvals.conftest import Flow
from tests.cogs.forums.conftest import WAIT, open_post

TITLE = "Export crashes the app"
BUG = (
    "Every time I click Export on the settings page the window closes with an error. "
    "I expected a CSV file to download. Version 3.1 on Windows 11."
)
SIMILAR = (
    "Export on the settings page crashes the app for me too, the window just closes "
    "when I press Export instead of giving me the CSV."
)
WISH = "Please add a dark mode to the dashboard, my eyes hurt in the evening when I use it."


def _later(seconds: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


async def _sync(sb: Sandbox) -> None:
    await sb.services.extras["issue_sync"]()


async def _bot_says(sb: Sandbox, post_id: int, words: str) -> StoredMessage:
    return await sb.discord.wait_for_message(
        post_id, lambda m: m.author_id == sb.discord.bot_user_id and words in m.content, WAIT
    )


async def _post_becomes(sb: Sandbox, post_id: int, check: Callable[[], bool], what: str) -> None:
    await sb.discord.state.signal.wait_for(lambda: True if check() else None, WAIT, what)


async def _reviewed(sb: Sandbox, item: FeedbackItem) -> StoredMessage:
    assert item.id is not None
    review = sb.discord.message(await sb.wait_for_review_message(item.id, within=WAIT))
    assert review is not None
    return review


async def _filed(sb: Sandbox, flow: Flow, post_id: int, item: FeedbackItem) -> FeedbackItem:
    assert item.id is not None
    await flow.click(await _reviewed(sb, item), "approve", item.id)
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    await sb.wait_for_item(lambda i: i.flow_done, item_id=item.id, within=WAIT)
    assert filed.issue_url is not None
    return filed


async def test_a_filed_post_is_tracked_then_resolved_and_archived_and_reopened(
    sb: Sandbox,
) -> None:
    flow = Flow(sb)
    post_id, item = await open_post(sb, sb.reporter, TITLE, BUG, tags=("bug",))
    filed = await _filed(sb, flow, post_id, item)
    link = await _bot_says(sb, post_id, filed.issue_url or "")
    assert str((link.payload.get("message_reference") or {}).get("message_id")) == str(post_id)
    await _post_becomes(
        sb, post_id, lambda: sb.discord.post_tags(post_id) == ["bug", "tracked"], "tracked tag"
    )
    issue = sb.github.issues_in(sb.repo)[0]
    assert issue.title == TITLE and "bug" in issue.labels

    await _sync(sb)
    sb.github.close_issue(sb.repo, filed.issue_number or 0, "completed", at=_later(1))
    await _sync(sb)
    await _bot_says(sb, post_id, "closed as completed")
    await _post_becomes(
        sb,
        post_id,
        lambda: "resolved" in sb.discord.post_tags(post_id) and sb.discord.post_archived(post_id),
        "resolved tag and archived",
    )
    await _sync(sb)
    assert len([m for m in sb.discord.messages_in(post_id) if "closed as" in m.content]) == 1

    sb.github.reopen_issue(sb.repo, filed.issue_number or 0, at=_later(2))
    await _sync(sb)
    await _bot_says(sb, post_id, "was reopened")
    await _post_becomes(
        sb,
        post_id,
        lambda: (
            sb.discord.post_tags(post_id) == ["bug", "tracked"]
            and not sb.discord.post_archived(post_id)
        ),
        "resolved tag removed and reopened",
    )
    sb.discord.assert_never_pinged()


async def test_a_released_issue_resolves_the_post_and_archiving_can_be_switched_off(
    sb: Sandbox,
) -> None:
    sb.services.settings.forums.archive_resolved = False
    flow = Flow(sb)
    post_id, item = await open_post(sb, sb.reporter, TITLE, BUG, tags=("bug",))
    filed = await _filed(sb, flow, post_id, item)
    await _sync(sb)
    sb.github.label_issue(sb.repo, filed.issue_number or 0, "released", at=_later(1))
    await _sync(sb)
    await _bot_says(sb, post_id, "labelled `released`")
    await _post_becomes(
        sb, post_id, lambda: "resolved" in sb.discord.post_tags(post_id), "resolved tag"
    )
    assert not sb.discord.post_archived(post_id)


async def test_duplicate_and_rejected_posts_get_their_tag_and_the_link_or_reason(
    sb: Sandbox,
) -> None:
    flow = Flow(sb)
    first_id, first = await open_post(sb, sb.reporter, TITLE, BUG, tags=("bug",))
    filed = await _filed(sb, flow, first_id, first)

    dup_id, dup = await open_post(sb, sb.outsider, "Export closes the window", SIMILAR)
    assert dup.id is not None
    review = await _reviewed(sb, dup)
    opened = await flow.click(review, "duplicate", dup.id)
    await flow.submit(opened, {"issue_number": str(filed.issue_number)}, review)
    await sb.wait_for_item_status(dup.id, ItemStatus.DUPLICATE, within=WAIT)
    await _bot_says(sb, dup_id, filed.issue_url or "")
    await _post_becomes(
        sb, dup_id, lambda: sb.discord.post_tags(dup_id) == ["duplicate"], "duplicate tag"
    )

    asker = sb.discord.add_user("dana-designer")
    wish_id, wish = await open_post(sb, asker, "Dark mode", WISH, tags=("feature",))
    assert wish.id is not None
    review = await _reviewed(sb, wish)
    opened = await flow.click(review, "reject", wish.id)
    await flow.submit(opened, {"reason": "Out of scope for this year's roadmap."}, review)
    await sb.wait_for_item_status(wish.id, ItemStatus.REJECTED, within=WAIT)
    await _bot_says(sb, wish_id, "Out of scope for this year's roadmap.")
    await _post_becomes(
        sb,
        wish_id,
        lambda: sb.discord.post_tags(wish_id) == ["feature", "declined"],
        "declined tag",
    )
    sb.discord.assert_never_pinged()


async def test_missing_tags_and_a_missing_permission_leave_the_link_and_say_why(
    sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    sb.services.settings.forums.tracked_tag = "shipped"
    flow = Flow(sb)
    post_id, item = await open_post(sb, sb.reporter, TITLE, BUG, tags=("bug",))
    filed = await _filed(sb, flow, post_id, item)
    await _bot_says(sb, post_id, filed.issue_url or "")

    guild = sb.discord.state.guilds[sb.discord.guild_id]
    bot_role = next(r for r in guild.roles.values() if r.bot_id == sb.discord.bot_user_id)
    bot_role.permissions &= ~(1 << 34)  # no Manage Threads
    await _sync(sb)
    sb.github.close_issue(sb.repo, filed.issue_number or 0, "completed", at=_later(1))
    await _sync(sb)
    await _bot_says(sb, post_id, "closed as completed")
    for _ in range(int(WAIT / 0.05)):
        if "needs the Manage Threads permission" in caplog.text:
            break
        await asyncio.sleep(0.05)
    assert "needs the Manage Threads permission" in caplog.text
    assert sb.discord.post_tags(post_id) == ["bug"] and not sb.discord.post_archived(post_id)
    assert caplog.text.count("has no tag 'shipped'") == 1


async def test_an_archived_post_is_reopened_after_a_restart(sb: Sandbox) -> None:
    flow = Flow(sb)
    post_id, item = await open_post(sb, sb.reporter, TITLE, BUG, tags=("bug",))
    filed = await _filed(sb, flow, post_id, item)
    await _sync(sb)
    sb.github.close_issue(sb.repo, filed.issue_number or 0, "completed", at=_later(1))
    await _sync(sb)
    await _post_becomes(sb, post_id, lambda: sb.discord.post_archived(post_id), "archived")

    await sb.restart()
    assert sb.bot.get_channel(post_id) is None, "archived posts are not in the gateway cache"
    await sb.services.guild_settings.change(  # no notice in the post: the bot reopens it
        guild_id=sb.discord.guild_id, key="notify_reporter", raw="false", actor="test"
    )
    sb.github.reopen_issue(sb.repo, filed.issue_number or 0, at=_later(2))
    await _sync(sb)
    await _post_becomes(
        sb,
        post_id,
        lambda: (
            "resolved" not in sb.discord.post_tags(post_id)
            and not sb.discord.post_archived(post_id)
        ),
        "resolved tag removed and reopened",
    )
