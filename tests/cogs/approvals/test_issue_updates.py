"""Closing the loop: reporters hear once when their issue is closed, reopened or released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.sandbox.discord import StoredMessage
from bot.sandbox.stack import Sandbox
from storage.models import ItemStatus

WAIT = 30.0
SIMILAR_REPORT = (
    "Export on the settings page crashes the app for me too, the window just closes "
    "when I press Export instead of giving me the CSV."
)


def _is_notice(sb: Sandbox, m: StoredMessage, message_id: int | None, phrase: str) -> bool:
    replied_to = (m.payload.get("message_reference") or {}).get("message_id")
    return (
        m.author_id == sb.discord.bot_user_id
        and str(replied_to) == str(message_id)
        and phrase in m.content
    )


def _notices(sb: Sandbox, message_id: int | None, phrase: str) -> list[StoredMessage]:
    return [
        m
        for m in sb.discord.messages_in(sb.discord.feedback_channel_id)
        if _is_notice(sb, m, message_id, phrase)
    ]


async def _sync(sb: Sandbox) -> None:
    await sb.services.extras["issue_sync"]()


def _later(seconds: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


async def _filed_and_duplicate(sb: Sandbox, flow: Any) -> tuple[Any, Any]:
    """One filed item (reporter) and one duplicate of its issue (outsider)."""
    item, review = await flow.report()
    await flow.click(review, "approve", item.id)
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    await sb.wait_for_item(lambda i: i.flow_done, item_id=item.id, within=WAIT)
    other, other_review = await flow.report(SIMILAR_REPORT, author=sb.outsider)
    opened = await flow.click(other_review, "duplicate", other.id)
    await flow.submit(opened, {"issue_number": str(filed.issue_number)}, other_review)
    duplicate = await sb.wait_for_item_status(other.id, ItemStatus.DUPLICATE, within=WAIT)
    await sb.wait_for_item(lambda i: i.flow_done, item_id=other.id, within=WAIT)
    await flow.delivered(item.id)
    await flow.delivered(other.id)
    return filed, duplicate


async def test_closing_tells_every_reporter_once_even_after_resync_and_restart(
    sb: Sandbox, flow: Any
) -> None:
    filed, duplicate = await _filed_and_duplicate(sb, flow)
    assert filed.issue_number is not None and filed.issue_url is not None
    await _sync(sb)
    assert not _notices(sb, filed.message_id, "Update on your feedback")

    sb.github.close_issue(sb.repo, filed.issue_number, "completed", at=_later(1))
    await _sync(sb)
    for message_id in (filed.message_id, duplicate.message_id):
        notice = await sb.discord.wait_for_message(
            sb.discord.feedback_channel_id,
            lambda m, mid=message_id: _is_notice(sb, m, mid, "closed as completed"),
            timeout=WAIT,
        )
        assert filed.issue_url in notice.content
    stored = await sb.item(filed.id or 0)
    assert stored is not None and stored.issue_state == "closed"

    await _sync(sb)
    await sb.restart()
    await _sync(sb)
    await sb.services.extras["issue_sync"]()
    for message_id in (filed.message_id, duplicate.message_id):
        assert len(_notices(sb, message_id, "closed as completed")) == 1

    sb.github.reopen_issue(sb.repo, filed.issue_number, at=_later(2))
    await _sync(sb)
    await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: _is_notice(sb, m, duplicate.message_id, "was reopened"),
        timeout=WAIT,
    )
    sb.github.close_issue(sb.repo, filed.issue_number, "not_planned", at=_later(3))
    await _sync(sb)
    await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: _is_notice(sb, m, filed.message_id, "closed as not planned"),
        timeout=WAIT,
    )
    assert len(_notices(sb, filed.message_id, "Update on your feedback")) == 3
    sb.discord.assert_never_pinged()


async def test_update_label_is_news_once_and_notices_never_become_feedback(
    sb: Sandbox, flow: Any
) -> None:
    filed, duplicate = await _filed_and_duplicate(sb, flow)
    assert filed.issue_number is not None
    await _sync(sb)
    issue = sb.github.label_issue(sb.repo, filed.issue_number, "released", at=_later(1))
    await _sync(sb)
    for message_id in (filed.message_id, duplicate.message_id):
        await sb.discord.wait_for_message(
            sb.discord.feedback_channel_id,
            lambda m, mid=message_id: _is_notice(sb, m, mid, "labelled `released`"),
            timeout=WAIT,
        )
    issue.updated_at = _later(2)
    await _sync(sb)
    await _sync(sb)
    for message_id in (filed.message_id, duplicate.message_id):
        assert len(_notices(sb, message_id, "labelled `released`")) == 1

    items = await sb.services.items.list_by_status(list(ItemStatus))
    assert sorted(i.id for i in items) == sorted([filed.id, duplicate.id])
    assert all(i.author_id != sb.discord.bot_user_id for i in items)


async def test_changes_of_unrelated_issues_and_disabled_notices_stay_silent(
    sb: Sandbox, flow: Any
) -> None:
    unrelated = sb.github.add_issue(sb.repo, title="Something else entirely", body="Other.")
    filed, duplicate = await _filed_and_duplicate(sb, flow)
    assert filed.issue_number is not None
    await _sync(sb)
    sb.github.close_issue(sb.repo, unrelated.number, "completed", at=_later(1))
    await _sync(sb)
    await sb.services.guild_settings.change(
        guild_id=sb.discord.guild_id, key="notify_reporter", raw="false", actor="test"
    )
    sb.github.close_issue(sb.repo, filed.issue_number, "completed", at=_later(2))
    await _sync(sb)
    stored = await sb.item(filed.id or 0)
    assert stored is not None and stored.issue_state == "closed"
    for message_id in (filed.message_id, duplicate.message_id):
        assert not _notices(sb, message_id, "Update on your feedback")
