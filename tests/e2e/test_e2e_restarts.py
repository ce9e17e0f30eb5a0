"""Stopping and killing the bot process at awkward moments: nothing lost, nothing doubled."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.models import ItemStatus
from tests.e2e.harness import ISSUE_CREATE, Deployment, complete, deployment

pytestmark = pytest.mark.slow

SETTLED = (ItemStatus.AWAITING_REVIEW, ItemStatus.NOT_ACTIONABLE)


@pytest.fixture(scope="module")
async def restartable(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Deployment]:
    """One deployment whose process the tests below stop, kill and start again."""
    workdir = tmp_path_factory.mktemp(f"restarts-{backend}")
    async with deployment(workdir, backend=backend) as running:
        yield running


@pytest.fixture
async def deployed(restartable: Deployment) -> Deployment:
    """The restartable deployment, running (started again if an earlier test left it down)."""
    if not restartable.process.alive:
        await restartable.process.restart()
    return restartable


async def _has_issue_for(deployed: Deployment, item_id: int) -> bool:
    return bool(deployed.issues_for(item_id))


async def test_sigterm_exits_zero_and_buttons_posted_before_work_after(
    deployed: Deployment,
) -> None:
    item, review = await deployed.report(
        complete("Changing the language to German leaves half of the menu in English.")
    )
    assert item.id is not None

    assert await deployed.process.terminate(timeout=15) == 0
    await deployed.process.restart()

    clicked = await deployed.click(review, "approve", item.id)
    assert "Approved" in await deployed.answer(clicked)
    filed = await deployed.wait_status(item.id, ItemStatus.FILED)
    issues = deployed.issues_for(item.id)
    assert [i.number for i in issues] == [filed.issue_number]
    assert len(deployed.review_messages_for(item.id)) == 1
    await deployed.notice_to_reporter(filed)
    assert len(deployed.notices_to_reporter(filed)) == 1


async def test_sigkill_while_github_is_slow_files_the_issue_once(deployed: Deployment) -> None:
    item, review = await deployed.report(
        complete("Two-factor codes sent by SMS arrive after they have already expired.")
    )
    assert item.id is not None
    issues_before = len(deployed.github.issues_in(deployed.repo))
    deployed.github.delay_next(ISSUE_CREATE, seconds=60)

    clicked = await deployed.click(review, "approve", item.id)
    await deployed.answer(clicked)
    await deployed.poll(
        lambda: _has_issue_for(deployed, item.id or 0), what="GitHub to store the issue"
    )
    await deployed.process.kill()
    before = await deployed.items.get(item.id)
    assert before is not None and before.status in (ItemStatus.APPROVED, ItemStatus.FILING)

    await deployed.process.restart()
    filed = await deployed.wait_status(item.id, ItemStatus.FILED, within=90)
    issues = deployed.issues_for(item.id)
    assert [i.number for i in issues] == [filed.issue_number]
    assert len(deployed.github.issues_in(deployed.repo)) == issues_before + 1
    await deployed.notice_to_reporter(filed)
    assert len(deployed.notices_to_reporter(filed)) == 1


async def test_sigkill_mid_triage_loses_and_doubles_nothing(deployed: Deployment) -> None:
    discord = deployed.discord
    # No review can be posted until after the kill, however slow the machine is.
    slow_reviews = discord.inject_failure(
        "POST",
        rf"/channels/{discord.review_channel_id}/messages$",
        status=429,
        count=1_000_000,
        retry_after=2.0,
    )
    message_ids = [
        await deployed.post(
            deployed.new_user("burst"),
            complete(f"The mobile app crashes on screen {n} when I rotate the phone."),
        )
        for n in range(1, 16)
    ]
    items = [await deployed.item_of(m, within=60) for m in message_ids]

    await deployed.process.kill()
    reviewed_before = sum(1 for i in items if deployed.review_messages_for(i.id or 0))
    assert reviewed_before < len(message_ids), "the kill should land mid-triage"
    slow_reviews.remaining = 0

    await deployed.process.restart()
    for item in items:
        assert item.id is not None
        settled = await deployed.wait_status(item.id, *SETTLED, within=120)
        if settled.status == ItemStatus.AWAITING_REVIEW:
            await deployed.review_of(item.id)
            assert len(deployed.review_messages_for(item.id)) == 1, f"item {item.id}"
    keys = {f"message:{m}" for m in message_ids}
    stored = [
        i for i in await deployed.items.list_by_status(list(ItemStatus)) if i.source_key in keys
    ]
    assert sorted(i.source_key for i in stored) == sorted(keys)
    reviewed = [i for i in stored if i.status == ItemStatus.AWAITING_REVIEW]
    assert len(reviewed) >= 13, "these are clear bug reports"


async def test_sigkill_right_after_filing_tells_the_reporter_once_after_restart(
    deployed: Deployment,
) -> None:
    item, review = await deployed.report(
        complete("Dragging a file onto the upload area opens it in the browser instead.")
    )
    assert item.id is not None
    discord = deployed.discord
    # Discord holds the review edit and the reply until the kill, however fast the bot is.
    held = [
        discord.inject_failure(method, pattern, status=429, count=1_000_000, retry_after=600.0)
        for method, pattern in (
            ("PATCH", rf"/channels/{discord.review_channel_id}/messages/{review.id}$"),
            ("POST", rf"/channels/{discord.feedback_channel_id}/messages$"),
        )
    ]

    clicked = await deployed.click(review, "approve", item.id)
    await deployed.answer(clicked)
    filed = await deployed.wait_item(
        item.id,
        lambda i: i.status == ItemStatus.FILED and i.flow_done,
        what="filed, flow done",
    )

    async def discord_held() -> bool:
        return held[0].hits > 0

    await deployed.poll(discord_held, what="the bot to be held by Discord")
    await deployed.process.kill()
    for rule in held:
        rule.remaining = 0
    assert deployed.notices_to_reporter(filed) == []

    await deployed.process.restart()
    notice = await deployed.notice_to_reporter(filed)
    assert str(filed.issue_url) in notice
    shown = await discord.wait_for_message(
        discord.review_channel_id,
        lambda m: m.id == review.id and f"#{filed.issue_number}" in str(m.embeds),
        timeout=60,
    )
    assert not [c for c in shown.custom_ids() if c.startswith("approvals:")]
    assert len(deployed.notices_to_reporter(filed)) == 1
    assert len(deployed.issues_for(item.id)) == 1
