"""Maintainers decide on feedback from the review message: buttons, modals and reactions."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.sandbox.stack import Sandbox
from cogs.approvals._cog import NOT_A_MAINTAINER, UNKNOWN_BUTTON
from storage.models import ItemStatus

WAIT = 30.0
REVIEW_ACTIONS = ("approve", "reject", "edit", "duplicate")


async def test_review_message_shows_the_triage(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    assert review.channel_id == sb.discord.review_channel_id
    assert item.status == ItemStatus.AWAITING_REVIEW
    assert item.review_channel_id == sb.discord.review_channel_id
    (embed,) = review.embeds
    assert item.spec is not None and item.spec["title"] in embed["title"]
    names = {f["name"]: f["value"] for f in embed["fields"]}
    assert names["Kind"] == item.kind and names["Severity"] == item.severity
    assert item.jump_url is not None and item.jump_url in names["Reporter"]
    assert sb.reporter.name in names["Reporter"]
    assert sorted(flow.approvals_buttons(review.id)) == sorted(
        f"approvals:{a}:{item.id}" for a in REVIEW_ACTIONS
    )
    assert len(sb.discord.messages_in(sb.discord.review_channel_id)) == 1


async def test_approve_files_one_issue_and_tells_the_reporter(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    clicked = await flow.click(review, "approve", item.id)
    assert clicked.callback is not None and clicked.callback.ephemeral
    assert "Approved" in await flow.answer(clicked)
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)

    (issue,) = flow.issues()
    assert issue.number == filed.issue_number
    assert issue.title == item.spec["title"]
    assert set(issue.labels) == set(item.spec["labels"])
    assert f"<!-- iterateswarm:item:{item.id} -->" in (issue.body or "")
    assert sb.reporter.name in (issue.body or "")

    assert filed.issue_url is not None
    reply = await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: m.author_id == sb.discord.bot_user_id and filed.issue_url in m.content,
        timeout=WAIT,
    )
    assert reply.payload["message_reference"]["message_id"] == str(item.message_id)

    edited = await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review.id and not flow.approvals_buttons(m.id),
        timeout=WAIT,
    )
    outcome = {f["name"]: f["value"] for f in edited.embeds[0]["fields"]}["Outcome"]
    assert f"#{filed.issue_number}" in outcome and sb.maintainer.name in outcome
    assert len(sb.discord.messages_in(sb.discord.review_channel_id)) == 1
    sb.discord.assert_never_pinged()


async def test_approve_by_reaction_and_outsider_reaction_is_removed(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    channel = sb.discord.review_channel_id
    await sb.discord.add_reaction(channel, review.id, sb.outsider, "✅")
    await sb.discord.state.signal.wait_for(
        lambda: (
            True if sb.outsider.id not in sb.discord.reactions_on(review.id).get("✅", []) else None
        ),
        WAIT,
        "the outsider's reaction to be removed",
    )
    assert (await sb.item(item.id)).status == ItemStatus.AWAITING_REVIEW  # type: ignore[union-attr]

    await sb.discord.add_reaction(channel, review.id, sb.maintainer, "✅")
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    assert len(flow.issues()) == 1
    assert filed.decision is not None and str(sb.maintainer.id) in filed.decision["actor"]
    events = await sb.services.items.events(item.id)
    assert any(
        e.to_status == ItemStatus.APPROVED and str(sb.maintainer.id) in e.actor for e in events
    )


async def test_reject_with_reason(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    opened = await flow.click(review, "reject", item.id)
    submitted = await flow.submit(opened, {"reason": "Works as intended"}, review)
    assert "Rejected" in await flow.answer(submitted)
    rejected = await sb.wait_for_item_status(item.id, ItemStatus.REJECTED, within=WAIT)
    assert rejected.decision is not None and rejected.decision["reason"] == "Works as intended"
    await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: m.author_id == sb.discord.bot_user_id and "Works as intended" in m.content,
        timeout=WAIT,
    )
    edited = await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review.id and not flow.approvals_buttons(m.id),
        timeout=WAIT,
    )
    assert "Works as intended" in str(edited.embeds[0]["fields"])
    assert flow.issues() == []


async def test_modal_submits_need_no_open_modal(sb: Sandbox, flow: Any) -> None:
    # A submit that reaches a process which never showed the modal (a restart in between).
    item, review = await flow.report()
    forged = await sb.discord.submit_modal(
        f"approvals:reject:{item.id}", {"reason": "Old modal"}, sb.reporter, message_id=review.id
    )
    assert await flow.answer(forged) == NOT_A_MAINTAINER
    garbled = await sb.discord.submit_modal(
        f"approvals:approve:{item.id}", {"reason": "x"}, sb.maintainer, message_id=review.id
    )
    assert await flow.answer(garbled) == UNKNOWN_BUTTON
    edit = await sb.discord.submit_modal(
        f"approvals:edit:{item.id}",
        {"title": "Export button closes the window", "severity": "high"},
        sb.maintainer,
        message_id=review.id,
    )
    await flow.answer(edit)
    await _poll_spec_title(sb, item.id, "Export button closes the window")
    edited = await sb.item(item.id)
    assert edited is not None and edited.severity == "high"
    reject = await sb.discord.submit_modal(
        f"approvals:reject:{item.id}", {"reason": "Old modal"}, sb.maintainer, message_id=review.id
    )
    assert "Rejected" in await flow.answer(reject)
    rejected = await sb.wait_for_item_status(item.id, ItemStatus.REJECTED, within=WAIT)
    assert rejected.decision is not None and rejected.decision["reason"] == "Old modal"


async def _poll_spec_title(sb: Sandbox, item_id: int, title: str) -> None:
    for _ in range(500):
        item = await sb.item(item_id)
        if item is not None and (item.spec or {}).get("title") == title:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"spec title never became {title!r}")


async def test_edit_then_approve_files_the_edited_issue(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    opened = await flow.click(review, "edit", item.id)
    assert item.spec["title"] in str(opened.callback.components)  # pre-filled
    submitted = await flow.submit(
        opened,
        {"title": "Export closes the window", "body": "Edited body text.", "labels": "bug"},
        review,
    )
    assert "Edited" in await flow.answer(submitted)
    await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review.id and "Export closes the window" in m.embeds[0]["title"],
        timeout=WAIT,
    )
    assert len(sb.discord.messages_in(sb.discord.review_channel_id)) == 1
    await flow.click(review, "approve", item.id)
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    (issue,) = flow.issues()
    assert issue.title == "Export closes the window"
    assert "Edited body text." in (issue.body or "")
    assert issue.labels == ["bug"]


async def test_duplicate_links_the_existing_issue_and_comments(sb: Sandbox, flow: Any) -> None:
    existing = sb.github.add_issue(sb.repo, title="Crash when exporting", body="Known crash.")
    item, review = await flow.report()
    opened = await flow.click(review, "duplicate", item.id)
    submitted = await flow.submit(opened, {"issue_number": str(existing.number)}, review)
    assert "duplicate" in (await flow.answer(submitted)).lower()
    done = await sb.wait_for_item_status(item.id, ItemStatus.DUPLICATE, within=WAIT)
    assert done.issue_number == existing.number
    await sb.wait_for_item(lambda i: i.flow_done, item_id=item.id, within=WAIT)
    await flow.delivered(item.id)
    assert len(existing.comments) == 1
    assert f"iterateswarm:item:{item.id}" in existing.comments[0]["body"]
    assert len(flow.issues()) == 1
    await sb.discord.wait_for_message(
        sb.discord.feedback_channel_id,
        lambda m: m.author_id == sb.discord.bot_user_id and f"/{existing.number}" in m.content,
        timeout=WAIT,
    )


async def test_duplicate_of_missing_issue_is_refused(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    opened = await flow.click(review, "duplicate", item.id)
    submitted = await flow.submit(opened, {"issue_number": "4242"}, review)
    assert "does not exist" in await flow.answer(submitted)
    assert (await sb.item(item.id)).status == ItemStatus.AWAITING_REVIEW  # type: ignore[union-attr]


async def test_non_maintainer_is_refused_ephemerally(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    for action in ("approve", "reject", "edit", "duplicate"):
        clicked = await flow.click(review, action, item.id, user=sb.outsider)
        assert clicked.callback is not None and clicked.callback.type != 9
        assert clicked.callback.ephemeral
        assert "Only maintainers" in await flow.answer(clicked)
    assert (await sb.item(item.id)).status == ItemStatus.AWAITING_REVIEW  # type: ignore[union-attr]
    assert flow.issues() == []


async def test_guild_owner_may_decide_without_the_role(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    clicked = await flow.click(review, "approve", item.id, user=sb.discord.owner)
    assert "Approved" in await flow.answer(clicked)
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)


async def test_two_simultaneous_approves_file_one_issue(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    second = sb.discord.add_user("second-maintainer", roles=[sb.discord.maintainer_role_id])
    shown = sb.discord.component_id(review.id, f"approvals:approve:{item.id}")
    clicks = await asyncio.gather(
        sb.discord.click_button(review.id, shown, sb.maintainer),
        sb.discord.click_button(review.id, shown, second),
    )
    answers = sorted([await flow.answer(c) for c in clicks])
    assert sum("Approved" in a for a in answers) == 1
    assert sum("already" in a for a in answers) == 1
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    await asyncio.sleep(0.5)
    assert len(flow.issues()) == 1


async def test_garbage_and_stale_buttons_are_explained(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    for custom_id, expected in (
        ("approvals:launch:rockets", "recognise"),
        ("approvals:approve:999999", "can't find"),
        ("someone-elses-bot:press:1", "not one this bot recognises"),
    ):
        clicked = await sb.discord.click_button(
            review.id, custom_id, sb.maintainer, check_exists=False
        )
        await clicked.wait_response(timeout=5)
        assert expected in await flow.answer(clicked)
    await flow.click(review, "approve", item.id)
    await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    stale = await sb.discord.click_button(
        review.id, f"approvals:approve:{item.id}", sb.maintainer, check_exists=False
    )
    await stale.wait_response(timeout=5)
    assert "already filed" in await flow.answer(stale)
    assert len(flow.issues()) == 1


async def test_reject_by_reaction(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    await sb.discord.add_reaction(sb.discord.review_channel_id, review.id, sb.maintainer, "❌")
    rejected = await sb.wait_for_item_status(item.id, ItemStatus.REJECTED, within=WAIT)
    assert rejected.decision is not None and str(sb.maintainer.id) in rejected.decision["actor"]
    await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review.id and not flow.approvals_buttons(m.id),
        timeout=WAIT,
    )
    assert flow.issues() == []


async def test_praise_is_acknowledged_without_a_review(sb: Sandbox, flow: Any) -> None:
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id,
        sb.reporter,
        "Thank you so much, I love this app! Great work everyone 💜",
    )
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    await sb.wait_for_item_status(item.id, ItemStatus.NOT_ACTIONABLE, within=WAIT)  # type: ignore[arg-type]
    await sb.discord.wait_for_reaction(int(posted["id"]), "💜", timeout=WAIT)
    assert sb.discord.messages_in(sb.discord.review_channel_id) == []
