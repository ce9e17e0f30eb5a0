"""Later replies in a details thread: context for the undecided item, never new items."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.sandbox.discord import FakeUser
from bot.sandbox.discord._payloads import thread_payload
from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from tests.cogs.approvals.conftest import Flow

WAIT = 30.0
THIN_REPORT = "the app crashes all the time"
ANSWER = "1. open settings 2. tap export. Version 2.1 on Android 14"
MORE = "It also happens on my tablet when the battery saver is on"
TOO_LATE = "Oh and it crashes on the web version as well"
MORE_HEADING = "More from the reporter"
UNSEEN = "It only fails when the file has spaces in the name, others upload fine"


@pytest.fixture(scope="module")
async def sb(
    embedder: Embedder,
    tmp_path_factory: pytest.TempPathFactory,
    module_database_url: str | None,
) -> AsyncIterator[Sandbox]:
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("details-more"),
        database_url=module_database_url,
        model=embedder.model,
        extra_env={"ASK_FOR_DETAILS": "true"},
    ) as sandbox:
        yield sandbox


async def _answered(
    sb: Sandbox, reporter: FakeUser, report: str = THIN_REPORT
) -> tuple[FeedbackItem, int]:
    """A thin report whose reporter answered the questions; (item in review, thread id)."""
    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, reporter, report)
    thread_id = int(posted["id"])
    item = await sb.wait_for_item_from_message(thread_id, within=WAIT)
    assert item.id is not None
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_DETAILS, within=WAIT)
    await sb.discord.wait_for_message(
        thread_id, lambda m: m.author_id == sb.discord.bot_user.id, timeout=WAIT
    )
    await sb.discord.post_message(thread_id, reporter, ANSWER)
    await sb.wait_for_review_message(item.id, within=WAIT)
    fresh = await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW, within=WAIT)
    return fresh, thread_id


async def _review_fields(sb: Sandbox, message_id: int, wanted: str) -> str:
    """The review embed's fields once `wanted` appears in them."""
    for _ in range(int(WAIT / 0.05)):
        stored = sb.discord.message(message_id)
        fields = str(stored.embeds[0].get("fields")) if stored and stored.embeds else ""
        if wanted in fields:
            return fields
        await asyncio.sleep(0.05)
    raise AssertionError(f"{wanted!r} never shown on the review message")


async def _settled(sb: Sandbox) -> None:
    """Wait until the bot has handled what was posted before: a fresh report is taken in."""
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id, sb.discord.add_user("marker"), "dark mode please, thanks"
    )
    await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    await asyncio.sleep(0.5)


def _approve_button(sb: Sandbox, item: FeedbackItem) -> str:
    """The custom_id of the Approve button the item's review message shows now."""
    review = sb.discord.message(item.review_message_id or 0)
    assert review is not None
    return review.component_id(f"approvals:approve:{item.id}")


def _issues_of(sb: Sandbox, item_id: int) -> list[Any]:
    """Issues in the sandbox repository that carry the item's marker."""
    marker = f"<!-- iterateswarm:item:{item_id} -->"
    return [i for i in sb.github.issues_in(sb.repo) if marker in (i.body or "")]


async def _items_from(sb: Sandbox, message_ids: list[int]) -> list[FeedbackItem]:
    found = [await sb.services.items.get_by_source(f"message:{m}") for m in message_ids]
    return [item for item in found if item is not None]


async def test_a_second_reply_reaches_the_item_and_its_issue_not_a_new_item(sb: Sandbox) -> None:
    reporter, bystander = sb.discord.add_user("rin"), sb.discord.add_user("sam")
    item, thread_id = await _answered(sb, reporter)
    assert item.id is not None and item.review_message_id is not None

    more = await sb.discord.post_message(thread_id, reporter, MORE)
    chatter = await sb.discord.post_message(thread_id, bystander, "same for me on desktop")
    await sb.discord.wait_for_reaction(int(more["id"]), "✅", timeout=WAIT)
    fields = await _review_fields(sb, item.review_message_id, MORE_HEADING)
    assert "battery saver" in fields
    await _settled(sb)
    assert await _items_from(sb, [int(more["id"]), int(chatter["id"])]) == []
    stored = await sb.item(item.id)
    assert stored is not None and stored.reporter_more is not None
    assert MORE in stored.reporter_more and "desktop" not in stored.reporter_more

    click = await sb.discord.click_button(
        item.review_message_id, _approve_button(sb, item), sb.maintainer
    )
    await click.wait_response(timeout=5)
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    (issue,) = [i for i in sb.github.issues_in(sb.repo) if i.number == filed.issue_number]
    assert issue.body is not None and MORE in issue.body and "Android 14" in issue.body

    late = await sb.discord.post_message(thread_id, reporter, TOO_LATE)
    await _settled(sb)
    assert await _items_from(sb, [int(late["id"])]) == []
    after = await sb.item(item.id)
    assert after is not None and TOO_LATE not in (after.reporter_more or "")
    sb.discord.assert_never_pinged()


async def test_a_thread_someone_else_opened_on_a_report_still_feeds_intake(sb: Sandbox) -> None:
    await sb.services.guild_settings.change(
        guild_id=sb.discord.guild_id, key="ask_for_details", raw="false", actor="test"
    )
    reporter = sb.discord.add_user("ivy")
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id,
        reporter,
        "The export button crashes. Steps: open settings, tap export. Version 2.1 on Android.",
    )
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.id is not None
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW, within=WAIT)
    parent = sb.discord.state.channels[sb.discord.feedback_channel_id]
    sb.discord.state.add_channel(thread_payload(int(posted["id"]), parent, reporter.id, "chat"))
    reply = await sb.discord.post_message(
        int(posted["id"]), reporter, "Separate thing: the search box ignores accents"
    )
    new = await sb.wait_for_item_from_message(int(reply["id"]), within=WAIT)
    assert new.id != item.id


async def test_deleting_the_details_thread_keeps_the_report(sb: Sandbox) -> None:
    await sb.services.guild_settings.change(
        guild_id=sb.discord.guild_id, key="ask_for_details", raw="true", actor="test"
    )
    report = "the login page is broken"  # not a duplicate of the module's other reports
    item, thread_id = await _answered(sb, sb.discord.add_user("tia"), report)
    assert item.id is not None
    await sb.discord.delete_forum_post(thread_id)  # a moderator tidies the thread away
    await _settled(sb)
    kept = await sb.item(item.id)
    assert kept is not None
    assert (kept.status, kept.raw_text) == (ItemStatus.AWAITING_REVIEW, report)


async def test_approve_on_the_review_shown_before_a_reply_files_only_once_it_is_seen(
    sb: Sandbox,
) -> None:
    reporter = sb.discord.add_user("noa")
    item, thread_id = await _answered(sb, reporter, "the upload button is broken")
    assert item.id is not None and item.review_message_id is not None
    review_id, shown = item.review_message_id, _approve_button(sb, item)
    # Discord holds the review's refresh back for a moment (a rate limit), as it may.
    sb.discord.inject_failure("PATCH", rf"/messages/{review_id}$", retry_after=1.5)
    more = await sb.discord.post_message(thread_id, reporter, UNSEEN)
    await sb.discord.wait_for_reaction(int(more["id"]), "✅", timeout=WAIT)

    stale = await sb.discord.click_button(review_id, shown, sb.maintainer)
    answer = await Flow(sb).answer(stale)
    assert answer == (
        "The reporter added details since this was shown; "
        "the review is updated, check it and Approve again."
    )
    assert "spaces in the name" in await _review_fields(sb, review_id, "spaces in the name")
    waiting = await sb.item(item.id)
    assert waiting is not None and waiting.status == ItemStatus.AWAITING_REVIEW
    assert _issues_of(sb, item.id) == []

    again = await sb.discord.click_button(review_id, _approve_button(sb, item), sb.maintainer)
    assert (await Flow(sb).answer(again)).startswith("Approved")
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    (issue,) = _issues_of(sb, item.id)
    assert issue.body is not None and UNSEEN in issue.body
    sb.discord.assert_never_pinged()


async def test_an_approve_reaction_on_the_review_shown_before_a_reply_is_refused(
    sb: Sandbox,
) -> None:
    reporter = sb.discord.add_user("pia")
    item, thread_id = await _answered(sb, reporter, "the print preview is broken")
    assert item.id is not None and item.review_message_id is not None
    review_id, channel = item.review_message_id, sb.discord.review_channel_id
    sb.discord.inject_failure("PATCH", rf"/messages/{review_id}$", retry_after=1.5)
    more = await sb.discord.post_message(thread_id, reporter, UNSEEN)
    await sb.discord.wait_for_reaction(int(more["id"]), "✅", timeout=WAIT)

    await sb.discord.add_reaction(channel, review_id, sb.maintainer, "✅")
    told = await sb.discord.wait_for_message(
        channel, lambda m: m.content.startswith("The reporter added details"), timeout=WAIT
    )
    assert told.payload.get("message_reference", {}).get("message_id") == str(review_id)
    assert sb.maintainer.id not in sb.discord.reactions_on(review_id).get("✅", [])
    await _review_fields(sb, review_id, "spaces in the name")
    waiting = await sb.item(item.id)
    assert waiting is not None and waiting.status == ItemStatus.AWAITING_REVIEW
    assert _issues_of(sb, item.id) == []

    await sb.discord.add_reaction(channel, review_id, sb.maintainer, "✅")
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    (issue,) = _issues_of(sb, item.id)
    assert issue.body is not None and UNSEEN in issue.body
    sb.discord.assert_never_pinged()


async def test_an_approve_button_rendered_without_a_revision_still_approves(sb: Sandbox) -> None:
    reporter = sb.discord.add_user("ola")
    item, thread_id = await _answered(sb, reporter, "the calendar view is broken")
    assert item.id is not None and item.review_message_id is not None
    more = await sb.discord.post_message(thread_id, reporter, UNSEEN)
    await sb.discord.wait_for_reaction(int(more["id"]), "✅", timeout=WAIT)
    await _review_fields(sb, item.review_message_id, "spaces in the name")
    old_id = f"approvals:approve:{item.id}"
    _render_as_before_revisions(sb, item.review_message_id, old_id)

    click = await sb.discord.click_button(item.review_message_id, old_id, sb.maintainer)
    assert (await Flow(sb).answer(click)).startswith("Approved")
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    (issue,) = _issues_of(sb, item.id)
    assert issue.body is not None and UNSEEN in issue.body


def _render_as_before_revisions(sb: Sandbox, message_id: int, old_id: str) -> None:
    """Make the message carry `old_id` where it carries `old_id:<revision>` (an old render)."""
    stored = sb.discord.message(message_id)
    assert stored is not None

    def walk(components: list[dict[str, Any]]) -> None:
        for component in components:
            if str(component.get("custom_id", "")).startswith(f"{old_id}:"):
                component["custom_id"] = old_id
            walk(component.get("components", []))

    walk(stored.payload.get("components", []))
    assert old_id in stored.custom_ids()
