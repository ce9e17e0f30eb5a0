"""Forum posts as intake: one post is one item; replies before the review are its context."""

from __future__ import annotations

import asyncio

from bot.forum_settings import parse_tag_map
from bot.sandbox.stack import Sandbox
from storage.models import ItemStatus
from tests.cogs.approvals.conftest import Flow
from tests.cogs.forums.conftest import WAIT, WINDOW_SECONDS, forum_id, open_post
from tests.e2e.harness import embed_text, strip_escapes

WARM_UP = (
    "The search box ignores accents: searching for cafe does not find café. Steps: type cafe "
    "in search. I expected the café entry. Version 3.1 on Android 14."
)
TITLE = "Export crashes the app"
STARTER = (
    "Every time I click Export on the settings page the window closes with an error. "
    "I expected a CSV file to download. Version 3.1 on Windows 11."
)
EDITED = (
    "Clicking Export on the reports page freezes the app for a minute, then it closes. "
    "I expected a PDF. Version 3.2 on macOS 14."
)


async def _all_items(sb: Sandbox) -> list[int]:
    return sorted(i.id or 0 for i in await sb.services.items.list_by_status(list(ItemStatus)))


async def test_a_tagged_post_is_one_item_and_its_reporters_replies_before_review_are_its_context(
    sb: Sandbox,
) -> None:
    sb.services.settings.forums.tag_map = parse_tag_map("bug=bug:needs-triage")
    await open_post(sb, sb.reporter, "Search ignores accents", WARM_UP)
    post_id, item = await open_post(sb, sb.reporter, TITLE, STARTER, tags=("Bug",))
    assert item.id is not None and item.status == ItemStatus.RECEIVED, "deferred by the limit"
    assert (item.title, item.kind_hint, item.forum_post_id) == (TITLE, "bug", post_id)
    assert item.raw_text == STARTER and item.reporter_labels == ["needs-triage"]

    await sb.discord.post_message(post_id, sb.outsider, "Same here on Linux, version 3.1.")
    await sb.discord.post_message(post_id, sb.reporter, "It also happens with the JSON export.")
    review_id = await sb.wait_for_review_message(item.id, within=WAIT + WINDOW_SECONDS)
    reviewed = await sb.item(item.id)
    assert reviewed is not None and reviewed.context is not None
    assert "Same here on Linux" not in reviewed.context, "others' replies stay discussion"
    assert "riley-reporter: It also happens with the JSON export." in reviewed.context
    assert reviewed.spec is not None and reviewed.spec["title"] == TITLE
    assert "needs-triage" in reviewed.spec["labels"]
    shown = strip_escapes(embed_text(sb.discord.message(review_id)))
    assert "JSON export" in shown and "Same here on Linux" not in shown
    before = await _all_items(sb)

    await sb.discord.post_message(post_id, sb.outsider, "Any news on this crash? Still there.")
    await sb.discord.post_message(post_id, sb.maintainer, "We are looking into the export bug.")
    await asyncio.sleep(1.0)
    assert await _all_items(sb) == before, "replies after the review are discussion"
    after = await sb.item(item.id)
    assert after is not None and after.context == reviewed.context

    await Flow(sb).click(sb.discord.message(review_id), "approve", item.id)  # type: ignore[arg-type]
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    issue = sb.github.repo(sb.repo).issues[filed.issue_number or 0]
    assert issue.title == TITLE and "needs-triage" in issue.labels
    assert "JSON export" in (issue.body or "") and "Any news" not in (issue.body or "")
    sb.discord.assert_never_pinged()


async def test_a_post_edited_before_triage_is_triaged_in_its_edited_form(sb: Sandbox) -> None:
    await open_post(sb, sb.reporter, "Search ignores accents", WARM_UP)
    post_id, item = await open_post(sb, sb.reporter, TITLE, STARTER, tags=("feature",))
    assert item.id is not None and item.status == ItemStatus.RECEIVED
    assert item.kind_hint == "feature"

    await sb.discord.edit_user_message(post_id, EDITED)
    review_id = await sb.wait_for_review_message(item.id, within=WAIT + WINDOW_SECONDS)
    triaged = await sb.item(item.id)
    assert triaged is not None and triaged.raw_text == EDITED
    assert triaged.spec is not None and triaged.spec["report"].startswith(f"{TITLE}\n\n{EDITED}")
    assert "PDF" in strip_escapes(embed_text(sb.discord.message(review_id)))


async def test_text_channels_keep_one_item_per_message(sb: Sandbox) -> None:
    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, sb.outsider, STARTER)
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.forum_post_id is None and item.title is None
    thread = await sb.discord.post_message(item.channel_id or 0, sb.reporter, WARM_UP)
    in_thread = await sb.wait_for_item_from_message(int(thread["id"]), within=WAIT)
    assert in_thread.id != item.id and in_thread.forum_post_id is None


async def test_a_forum_set_with_config_is_a_feedback_channel(sb: Sandbox) -> None:
    options = {"key": "feedback_channel_ids", "value": str(forum_id(sb))}
    interaction = await sb.discord.slash_command("config set", options, sb.discord.owner)
    answer = await interaction.wait_for(lambda r: r.kind == "followup", timeout=WAIT)
    assert str(forum_id(sb)) in (answer.content or "")
    post_id, item = await open_post(sb, sb.outsider, "Search ignores accents", WARM_UP)
    assert item.forum_post_id == post_id and item.kind_hint is None
    ignored = await sb.discord.post_message(sb.discord.feedback_channel_id, sb.reporter, STARTER)
    await asyncio.sleep(1.0)
    assert await sb.services.items.get_by_source(f"message:{ignored['id']}") is None


async def test_a_post_deleted_under_review_withdraws_its_item(sb: Sandbox) -> None:
    post_id, item = await open_post(sb, sb.outsider, TITLE, STARTER, tags=("bug",))
    assert item.id is not None
    await sb.wait_for_review_message(item.id, within=WAIT)

    await sb.discord.delete_forum_post(post_id)
    withdrawn = await sb.wait_for_item(
        lambda i: i.status == ItemStatus.WITHDRAWN and i.content_removed_at is not None,
        item_id=item.id,
        within=WAIT,
    )
    assert (withdrawn.raw_text, withdrawn.title, withdrawn.context) == ("", None, None)
