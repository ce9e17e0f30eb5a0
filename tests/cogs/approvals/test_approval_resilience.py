"""Approvals across restarts, GitHub failures, hostile text and very long messages."""

from __future__ import annotations

from typing import Any

from bot.sandbox.stack import Sandbox
from storage.models import ItemStatus

WAIT = 30.0
ISSUES_ROUTE = "POST /repos/acme/widgets/issues"


def _embed_size(embed: dict[str, Any]) -> int:
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for field in embed.get("fields") or []:
        total += len(field["name"]) + len(field["value"])
    return total


async def test_old_button_works_after_a_restart(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    await sb.restart()
    clicked = await flow.click(review, "approve", item.id)
    assert "Approved" in await flow.answer(clicked)
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    assert len(flow.issues()) == 1
    assert len(sb.discord.messages_in(sb.discord.review_channel_id)) == 1


async def test_deleted_review_message_is_posted_again_after_restart(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    await sb.discord.delete_user_message(review.id)
    await sb.restart()
    reposted = await sb.wait_for_item(
        lambda i: i.review_message_id not in (None, review.id), item_id=item.id, within=WAIT
    )
    assert reposted.review_message_id is not None
    assert [m.id for m in sb.discord.messages_in(sb.discord.review_channel_id)] == [
        reposted.review_message_id
    ]
    new_review = sb.discord.message(reposted.review_message_id)
    await flow.click(new_review, "approve", item.id)
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)


async def test_github_502_then_success_files_once(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    sb.github.fail_next(ISSUES_ROUTE, status=502)
    await flow.click(review, "approve", item.id)
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    assert sb.github.pending_faults(ISSUES_ROUTE) == 0
    assert len(flow.issues()) == 1


async def test_github_down_past_retries_fails_then_retry_files(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    assert sb.github_retry is not None
    sb.github.fail_next(ISSUES_ROUTE, status=503, times=sb.github_retry.attempts)
    await flow.click(review, "approve", item.id)
    await sb.wait_for_item_status(item.id, ItemStatus.FAILED, within=WAIT)
    failed_view = await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review.id and m.has_component(f"approvals:retry:{item.id}"),
        timeout=WAIT,
    )
    assert sorted(flow.approvals_buttons(failed_view.id)) == [
        f"approvals:edit:{item.id}",
        f"approvals:reject:{item.id}",
        f"approvals:retry:{item.id}",
    ]
    assert flow.issues() == []

    assert sb.github.pending_faults(ISSUES_ROUTE) == 0
    clicked = await flow.click(review, "retry", item.id)
    assert "Retrying" in await flow.answer(clicked)
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    (issue,) = flow.issues()
    assert issue.number == filed.issue_number


async def test_mention_injection_never_pings(sb: Sandbox, flow: Any) -> None:
    role = sb.discord.maintainer_role_id
    text = (
        f"@everyone @here <@&{role}> <@{sb.maintainer.id}> the export button crashes the app "
        "and the window closes, please fix this bug"
    )
    item, review = await flow.report(text)
    await flow.click(review, "approve", item.id)
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: m.author_id == sb.discord.bot_user_id and str(filed.issue_url) in m.content,
        timeout=WAIT,
    )
    checks = sb.discord.mention_checks
    assert checks, "the bot sent messages, so mention checks must exist"
    for check in checks:
        assert check.allowed_mentions is not None
        assert check.allowed_mentions.get("parse") == []
    sb.discord.assert_never_pinged()
    (issue,) = flow.issues()
    assert "@everyone" not in (issue.body or "").replace("@&#8203;", "")


async def test_very_long_unicode_message_gets_a_valid_review(sb: Sandbox, flow: Any) -> None:
    chunk = (
        "導出ボタンを押すとアプリがクラッシュします。 "
        "التطبيق يتعطل عند التصدير 😡💥 crash on export. "
    )
    text = (chunk * 80)[:3900]
    item, review = await flow.report(text)
    (embed,) = review.embeds
    assert _embed_size(embed) <= 6000
    assert len(embed["title"]) <= 256 and len(embed.get("description") or "") <= 4096
    assert len(embed["fields"]) <= 25
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])
    assert "導出" in str(embed["fields"]) or "導出" in (embed.get("description") or "")
    await flow.click(review, "approve", item.id)
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
