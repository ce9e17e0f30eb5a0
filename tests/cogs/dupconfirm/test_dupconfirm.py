"""The reporter confirms (or denies) that a matching open issue is their problem, over the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.discord import FakeUser, StoredMessage
from bot.sandbox.discord._interaction_records import InteractionResponse
from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from storage.outbox import OutboxRepository
from tests.sandboxes import sandbox_on

WAIT = 30.0
EXPORT_CRASH = (
    "The app crashes every time I click the Export button on the settings page. "
    "I expected a CSV file to download but the whole window closes with an error."
)


@pytest.fixture
async def sb(db_url: str, tmp_path: Path, embedder: Embedder) -> AsyncIterator[Sandbox]:
    """The bot on SQLite and PostgreSQL, asking reporters about matching open issues."""
    async with sandbox_on(db_url, tmp_path, embedder, DUPLICATE_CONFIRM="auto_link") as sandbox:
        yield sandbox


async def _matching_report(sb: Sandbox) -> tuple[FeedbackItem, Any, StoredMessage]:
    """An open issue, a report of the same problem, and the question the reporter is asked."""
    issue = sb.github.add_issue(
        sb.repo, title="App crashes when clicking Export on the settings page", body=EXPORT_CRASH
    )
    await sb.services.extras["issue_sync"]()
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id, sb.reporter, EXPORT_CRASH
    )
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.id is not None
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REPORTER, within=WAIT)
    question = await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: any(c.startswith("dupconfirm:") for c in m.custom_ids()),
        timeout=WAIT,
    )
    assert f"#{issue.number}" in question.content and "same problem" in question.content
    assert question.payload.get("message_reference", {}).get("message_id") == posted["id"]
    return item, issue, question


async def _answer(
    sb: Sandbox, question: StoredMessage, answer: str, item_id: int, user: FakeUser
) -> InteractionResponse:
    """Click one of the question's buttons as `user`; the bot's first answer to the click."""
    interaction = await sb.discord.click_button(question.id, f"dupconfirm:{answer}:{item_id}", user)
    return await interaction.wait_response(timeout=10)


def _reviews(sb: Sandbox) -> list[StoredMessage]:
    """Review messages (embeds) in the review channel."""
    return [m for m in sb.discord.messages_in(sb.discord.review_channel_id) if m.embeds]


async def _delivered(sb: Sandbox, item_id: int) -> None:
    """Wait until the finished item owes nothing more (outbox)."""
    outbox = OutboxRepository(sb.services.db)
    await sb.wait_for_item(lambda i: i.flow_done, item_id=item_id, within=WAIT)
    for _ in range(600):
        if not await outbox.pending(item_id=item_id):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("outbox rows still pending")


async def test_yes_same_links_the_report_without_review(sb: Sandbox) -> None:
    item, issue, question = await _matching_report(sb)
    assert item.id is not None and not _reviews(sb)

    response = await _answer(sb, question, "same", item.id, sb.reporter)
    assert not response.ephemeral

    done = await sb.wait_for_item_status(item.id, ItemStatus.DUPLICATE, within=WAIT)
    assert done.issue_number == issue.number
    await _delivered(sb, item.id)
    assert len(issue.comments) == 1
    assert f"iterateswarm:item:{item.id}" in issue.comments[0]["body"]
    assert not _reviews(sb), "no maintainer review is needed"
    answered = sb.discord.message(question.id)
    assert answered is not None and not answered.custom_ids()
    sb.discord.assert_never_pinged()


async def test_no_different_goes_to_review_with_the_answer(sb: Sandbox) -> None:
    item, issue, question = await _matching_report(sb)
    assert item.id is not None
    await _answer(sb, question, "different", item.id, sb.reporter)

    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW, within=WAIT)
    await sb.wait_for_review_message(item.id, within=WAIT)
    review = _reviews(sb)[0]
    fields = str(review.embeds[0]["fields"])
    assert f"Reporter says it is different from #{issue.number}" in fields
    assert not issue.comments
    sb.discord.assert_never_pinged()


async def test_someone_else_cannot_answer(sb: Sandbox) -> None:
    item, _issue, question = await _matching_report(sb)
    assert item.id is not None
    for answer in ("same", "different"):
        response = await _answer(sb, question, answer, item.id, sb.outsider)
        assert response.ephemeral and "Only the person who sent" in (response.content or "")
    still = await sb.item(item.id)
    assert still is not None and still.status == ItemStatus.AWAITING_REPORTER
    kept = sb.discord.message(question.id)
    assert kept is not None and len(kept.custom_ids()) == 2
    assert not _reviews(sb)


async def test_the_buttons_work_after_a_restart(sb: Sandbox) -> None:
    item, issue, question = await _matching_report(sb)
    assert item.id is not None
    await sb.restart()
    await _answer(sb, question, "same", item.id, sb.reporter)
    done = await sb.wait_for_item_status(item.id, ItemStatus.DUPLICATE, within=WAIT)
    assert done.issue_number == issue.number
    await _delivered(sb, item.id)
    assert len(issue.comments) == 1 and not _reviews(sb)


async def test_no_answer_in_time_goes_to_review_as_today(
    db_url: str, tmp_path: Path, embedder: Embedder
) -> None:
    async with sandbox_on(
        db_url, tmp_path, embedder, DUPLICATE_CONFIRM="auto_link", DUPLICATE_CONFIRM_TIMEOUT="2s"
    ) as sb:
        item, issue, _question = await _matching_report(sb)
        assert item.id is not None
        await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW, within=WAIT)
        await sb.wait_for_review_message(item.id, within=WAIT)
        fields = str(_reviews(sb)[0].embeds[0]["fields"])
        assert f"#{issue.number}" in fields
        assert "Reporter confirms" not in fields and "Reporter says" not in fields
        assert not issue.comments


async def test_off_reviews_as_before(db_url: str, tmp_path: Path, embedder: Embedder) -> None:
    async with sandbox_on(db_url, tmp_path, embedder, DUPLICATE_CONFIRM="off") as sb:
        sb.github.add_issue(
            sb.repo,
            title="App crashes when clicking Export on the settings page",
            body=EXPORT_CRASH,
        )
        await sb.services.extras["issue_sync"]()
        posted = await sb.discord.post_message(
            sb.discord.feedback_channel_id, sb.reporter, EXPORT_CRASH
        )
        item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
        assert item.id is not None
        await sb.wait_for_review_message(item.id, within=WAIT)
        assert (await sb.item(item.id)).duplicates["verdict"] == "duplicate"  # type: ignore[union-attr,index]


async def test_an_issue_closed_since_it_was_indexed_is_not_offered(sb: Sandbox) -> None:
    issue = sb.github.add_issue(
        sb.repo, title="App crashes when clicking Export on the settings page", body=EXPORT_CRASH
    )
    await sb.services.extras["issue_sync"]()
    sb.github.close_issue(sb.repo, issue.number)
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id, sb.reporter, EXPORT_CRASH
    )
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.id is not None
    await sb.wait_for_review_message(item.id, within=WAIT)
    asked = [
        m
        for m in sb.discord.messages_in(sb.discord.feedback_channel_id)
        if any(c.startswith("dupconfirm:") for c in m.custom_ids())
    ]
    assert not asked and not issue.comments
    reviewed = await sb.item(item.id)
    assert reviewed is not None and (reviewed.duplicates or {}).get("verdict") == "duplicate"


async def test_feedback_form_is_asked_by_dm(sb: Sandbox) -> None:
    issue = sb.github.add_issue(
        sb.repo, title="App crashes when clicking Export on the settings page", body=EXPORT_CRASH
    )
    await sb.services.extras["issue_sync"]()
    opener = await sb.discord.slash_command("feedback", {}, sb.reporter)
    modal = await opener.wait_response()
    assert modal.custom_id
    fields: dict[str, str | list[str]] = {
        "summary": "Export crashes the app",
        "details": EXPORT_CRASH,
        "kind": ["bug"],
    }
    await sb.discord.submit_modal(modal.custom_id, fields, sb.reporter)
    item = await sb.wait_for_item(lambda i: i.source_key == f"interaction:{opener.id}", within=WAIT)
    assert item.id is not None
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REPORTER, within=WAIT)
    dm_id = sb.discord.dm_channel_id(sb.reporter)
    question = await sb.discord.wait_for_message(
        dm_id, lambda m: any(c.startswith("dupconfirm:") for c in m.custom_ids()), timeout=WAIT
    )
    assert f"#{issue.number}" in question.content

    await _answer(sb, question, "same", item.id, sb.reporter)
    await sb.wait_for_item_status(item.id, ItemStatus.DUPLICATE, within=WAIT)
    await _delivered(sb, item.id)
    assert len(issue.comments) == 1 and not _reviews(sb)
    sb.discord.assert_never_pinged()


async def test_review_mode_still_posts_the_review_with_the_confirmation(
    db_url: str, tmp_path: Path, embedder: Embedder
) -> None:
    async with sandbox_on(db_url, tmp_path, embedder, DUPLICATE_CONFIRM="review") as sb:
        item, issue, question = await _matching_report(sb)
        assert item.id is not None
        await _answer(sb, question, "same", item.id, sb.reporter)
        await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW, within=WAIT)
        await sb.wait_for_review_message(item.id, within=WAIT)
        fields = str(_reviews(sb)[0].embeds[0]["fields"])
        assert f"Reporter confirms it is #{issue.number}" in fields
        assert not issue.comments


async def test_a_forum_post_is_asked_in_the_post(
    db_url: str, tmp_path: Path, embedder: Embedder
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path / "data",
        database_url=db_url,
        model=embedder.model,
        extra_env={"DUPLICATE_CONFIRM": "auto_link"},
        start_bot=False,
    ) as sb:
        forum = sb.discord.add_forum_channel("bug-reports", tags=("bug", "duplicate"))
        sb.configure(FEEDBACK_CHANNEL_IDS=f"{sb.discord.feedback_channel_id},{forum['id']}")
        await sb.start()
        issue = sb.github.add_issue(
            sb.repo,
            title="App crashes when clicking Export on the settings page",
            body=EXPORT_CRASH,
        )
        await sb.services.extras["issue_sync"]()
        post = await sb.discord.create_forum_post(
            int(forum["id"]), sb.reporter, "Export crashes the app", EXPORT_CRASH
        )
        post_id = int(post["id"])
        item = await sb.wait_for_item_from_message(post_id, within=WAIT)
        assert item.id is not None
        question = await sb.discord.wait_for_message(
            post_id,
            lambda m: any(c.startswith("dupconfirm:") for c in m.custom_ids()),
            timeout=WAIT,
        )
        assert f"#{issue.number}" in question.content
        await _answer(sb, question, "same", item.id, sb.reporter)
        done = await sb.wait_for_item_status(item.id, ItemStatus.DUPLICATE, within=WAIT)
        assert done.issue_number == issue.number and not _reviews(sb)
        sb.discord.assert_never_pinged()
