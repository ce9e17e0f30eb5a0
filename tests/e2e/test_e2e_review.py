"""Review flows over the wire against a bot process: approve, reject, edit, duplicate, refusals."""

from __future__ import annotations

import pytest

from bot.sandbox.discord import EPHEMERAL_FLAG
from storage.models import ItemStatus
from tests.e2e.harness import Deployment, complete, embed_text, field_value

pytestmark = pytest.mark.slow

BUG = (
    "The app crashes when I export my project to CSV.\n"
    "1. Open Settings\n2. Click Export\n3. Choose CSV and press Save\n"
    "Expected a file to download, but the window closes with 'Unhandled exception'. "
    "Version 2.4.1 on Windows 11."
)


def approval_buttons(deployed: Deployment, message_id: int) -> list[str]:
    """Review-button custom ids still on a message."""
    stored = deployed.discord.message(message_id)
    assert stored is not None
    return [c for c in stored.custom_ids() if c.startswith("approvals:")]


async def test_approve_files_one_issue_and_tells_the_reporter(shared: Deployment) -> None:
    reporter = shared.new_user("reporter")
    message_id = await shared.post(reporter, BUG)
    received = await shared.item_of(message_id)
    assert received.id is not None
    item_id = received.id
    await shared.discord.wait_for_reaction(message_id, "👀", timeout=30)
    item = await shared.wait_status(item_id, ItemStatus.AWAITING_REVIEW)
    review = await shared.review_of(item_id)
    assert review.has_component(f"approvals:approve:{item_id}")
    shown = embed_text(review)
    assert "export" in shown.lower()
    assert field_value(review, "Kind") == item.kind

    clicked = await shared.click(review, "approve", item_id)
    assert clicked.callback is not None and clicked.callback.flags & EPHEMERAL_FLAG
    assert "Approved" in await shared.answer(clicked)

    filed = await shared.wait_status(item_id, ItemStatus.FILED)
    issues = shared.issues_for(item_id)
    assert len(issues) == 1
    assert issues[0].number == filed.issue_number
    assert issues[0].title == (filed.spec or {}).get("title")
    assert filed.issue_url is not None
    assert filed.issue_url in await shared.notice_to_reporter(filed)
    await shared.discord.state.signal.wait_for(
        lambda: True if not approval_buttons(shared, review.id) else None, 30, "buttons removed"
    )
    outcome = field_value(shared.discord.message(review.id), "Outcome")  # type: ignore[arg-type]
    assert outcome is not None and f"#{filed.issue_number}" in outcome
    shared.discord.assert_never_pinged()


async def test_reject_with_reason_files_nothing(shared: Deployment) -> None:
    item, review = await shared.report(
        complete(
            "Please make the settings page load faster, it takes about ten seconds every time."
        )
    )
    assert item.id is not None
    opened = await shared.click(review, "reject", item.id)
    submitted = await shared.submit(
        opened, {"reason": "Loading time is tracked in the performance epic."}, review
    )
    assert "reject" in (await shared.answer(submitted)).lower()

    rejected = await shared.wait_status(item.id, ItemStatus.REJECTED)
    assert (rejected.decision or {}).get(
        "reason"
    ) == "Loading time is tracked in the performance epic."
    notice = await shared.notice_to_reporter(rejected)
    assert "performance epic" in notice
    assert shared.issues_for(item.id) == []
    shared.discord.assert_never_pinged()


async def test_edit_then_approve_uses_the_edited_title(shared: Deployment) -> None:
    item, review = await shared.report(
        complete(
            "When I upload a PNG avatar bigger than 2 MB the profile page shows a blank image "
            "and the upload spinner never stops."
        )
    )
    assert item.id is not None
    opened = await shared.click(review, "edit", item.id)
    new_title = "Avatar upload over 2 MB hangs and leaves a blank image"
    submitted = await shared.submit(opened, {"title": new_title, "labels": "bug"}, review)
    await shared.answer(submitted)

    edited = await shared.wait_item(
        item.id,
        lambda i: (
            (i.spec or {}).get("title") == new_title and i.status == ItemStatus.AWAITING_REVIEW
        ),
        what="the edited title",
    )
    await shared.discord.state.signal.wait_for(
        lambda: True if new_title in embed_text(shared.discord.message(review.id)) else None,  # type: ignore[arg-type]
        30,
        "the review message to show the new title",
    )
    assert edited.id is not None
    approved = await shared.click(shared.discord.message(review.id), "approve", item.id)  # type: ignore[arg-type]
    await shared.answer(approved)
    await shared.wait_status(item.id, ItemStatus.FILED)
    issues = shared.issues_for(item.id)
    assert [i.title for i in issues] == [new_title]
    assert issues[0].labels == ["bug"]


async def test_duplicate_links_the_existing_issue(shared: Deployment) -> None:
    existing = shared.github.add_issue(
        shared.repo,
        title="Dark mode resets to light after restart",
        body="The theme setting is not persisted.",
        labels=["bug"],
    )
    item, review = await shared.report(
        complete(
            "Every time I restart the app my dark mode setting is gone and it is back to light."
        )
    )
    assert item.id is not None

    opened = await shared.click(review, "duplicate", item.id)
    wrong = await shared.submit(opened, {"issue_number": "987654"}, review)
    assert "does not exist" in await shared.answer(wrong)
    assert (await shared.items.get(item.id)).status == ItemStatus.AWAITING_REVIEW  # type: ignore[union-attr]

    opened = await shared.click(review, "duplicate", item.id)
    linked = await shared.submit(opened, {"issue_number": str(existing.number)}, review)
    await shared.answer(linked)
    duplicate = await shared.wait_status(item.id, ItemStatus.DUPLICATE)
    assert duplicate.issue_number == existing.number
    assert shared.issues_for(item.id) == []
    notice = await shared.notice_to_reporter(duplicate)
    assert f"/issues/{existing.number}" in notice or f"#{existing.number}" in notice
    await shared.poll(
        lambda: _comment_count(shared, existing.number), what="the comment on the issue"
    )
    shared.discord.assert_never_pinged()


async def _comment_count(deployed: Deployment, number: int) -> int:
    return len(deployed.github.repo(deployed.repo).issues[number].comments)


async def test_non_maintainers_cannot_decide(shared: Deployment) -> None:
    item, review = await shared.report(
        complete(
            "Search returns no results for words with accents like 'café' even though they exist."
        )
    )
    assert item.id is not None
    outsider = shared.new_user("outsider")

    clicked = await shared.click(review, "approve", item.id, user=outsider)
    assert "Only maintainers" in await shared.answer(clicked)
    opened = await shared.click(review, "reject", item.id, user=outsider)
    assert opened.callback is not None and opened.callback.type != 9
    assert "Only maintainers" in await shared.answer(opened)

    await shared.discord.add_reaction(review.channel_id, review.id, outsider, "✅")
    await shared.discord.state.signal.wait_for(
        lambda: (
            True
            if outsider.id not in shared.discord.reactions_on(review.id).get("✅", [])
            else None
        ),
        30,
        "the outsider's reaction to be removed",
    )
    status = await shared.discord.slash_command("status", None, outsider)
    await status.wait_response(timeout=10)
    assert "Only maintainers" in await shared.answer(status)

    still = await shared.items.get(item.id)
    assert still is not None and still.status == ItemStatus.AWAITING_REVIEW
    assert shared.issues_for(item.id) == []


async def test_status_is_acknowledged_within_the_interaction_deadline(
    shared: Deployment,
) -> None:
    interaction = await shared.discord.slash_command("status", None, shared.maintainer)
    # The fake refuses a first response later than Discord's 3 s deadline, so a recorded
    # callback means the bot answered in time.
    first = await interaction.wait_response(timeout=10)
    assert first.ephemeral
    report = await interaction.wait_for(lambda r: bool(r.embeds), timeout=30)
    fields = {f["name"]: f["value"] for f in report.embeds[0].get("fields", [])}
    assert report.embeds[0].get("title") == "IterateSwarm status"
    assert "offline" in fields.get("Engine", "").lower()
    assert report.ephemeral
