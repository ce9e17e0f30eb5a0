"""Nothing owed after the final status is lost: a Discord outage or a stop right after it is
made good after the restart, exactly once; /forget takes the person's pending deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from agents.triage.render import item_marker, last_marker
from bot.sandbox import _github_json as github_json
from bot.sandbox.discord import FailureRule, StoredMessage
from bot.sandbox.stack import Sandbox
from cogs.approvals._outbox import MAX_ATTEMPTS
from storage.embeddings import Embedder
from storage.models import FeedbackItem, FeedbackItemBase, ItemStatus, OutboxMessage, utcnow
from storage.outbox import REPORTER_NOTICE, REVIEW_UPDATE, OutboxRepository
from tests.cogs.approvals.conftest import BUG_REPORT, Flow
from tests.cogs.privacy.test_forget import _ask, _confirmed
from tests.sandboxes import sandbox_on

WAIT = 30.0
#: Discord answers 503 (discord.py does not retry it) for as long as the outage lasts.
OUTAGE = 1_000_000


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder, db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox_on(db_url, tmp_path, embedder) as sandbox:
        yield sandbox


def _notices(sb: Sandbox, item: FeedbackItem) -> list[StoredMessage]:
    """The bot's replies to the reporter's message and its DMs to the reporter."""
    replies = [
        m
        for m in sb.discord.messages_in(sb.discord.feedback_channel_id)
        if m.author_id == sb.discord.bot_user_id
        and str((m.payload.get("message_reference") or {}).get("message_id"))
        == str(item.message_id)
    ]
    return replies + sb.discord.dms_to(item.author_id or 0)


def _bot_messages(sb: Sandbox, item: FeedbackItem) -> int:
    """Every message the bot sent where it may speak about the item."""
    channels = (sb.discord.feedback_channel_id, sb.discord.review_channel_id)
    sent = sum(
        1
        for channel in channels
        for m in sb.discord.messages_in(channel)
        if m.author_id == sb.discord.bot_user_id
    )
    return sent + len(sb.discord.dms_to(item.author_id or 0))


def _discord_down(sb: Sandbox, review_id: int) -> list[FailureRule]:
    """Review edits, replies in the feedback channel and DMs all fail with 503 (in that
    order: the first two are the ones the bot tries)."""
    discord = sb.discord
    return [
        discord.inject_failure(
            "PATCH", rf"/channels/{discord.review_channel_id}/messages/{review_id}$", status=503
        ),
        discord.inject_failure(
            "POST", rf"/channels/{discord.feedback_channel_id}/messages$", status=503
        ),
        discord.inject_failure("POST", r"/users/@me/channels$", status=503),
    ]


def _outage(sb: Sandbox, review_id: int) -> list[FailureRule]:
    rules = _discord_down(sb, review_id)
    for rule in rules:
        rule.remaining = OUTAGE
    return rules


async def _tried(sb: Sandbox, rules: list[FailureRule]) -> None:
    """Wait until the bot has tried (and failed) to edit the review and tell the reporter."""
    review_edit, reply = rules[:2]
    await sb.discord.state.signal.wait_for(
        lambda: True if review_edit.hits and reply.hits else None,
        WAIT,
        "the bot's attempts during the outage",
    )


async def _decide(flow: Flow, review: StoredMessage, item_id: int, outcome: str) -> None:
    if outcome == "filed":
        await flow.click(review, "approve", item_id)
    else:
        opened = await flow.click(review, "reject", item_id)
        await flow.submit(opened, {"reason": "Works as intended"}, review)


async def _finished(sb: Sandbox, item_id: int, outcome: str) -> FeedbackItem:
    return await sb.wait_for_item(
        lambda i: i.status == ItemStatus(outcome) and i.flow_done,
        item_id=item_id,
        within=WAIT,
        what=f"{outcome}, flow done",
    )


async def _shows_outcome(sb: Sandbox, flow: Flow, review_id: int, words: str) -> None:
    """The review message has lost its buttons and names the outcome."""
    await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review_id and not flow.approvals_buttons(m.id) and words in str(m.embeds),
        timeout=WAIT,
    )


@pytest.mark.parametrize("outcome", ["filed", "rejected"])
async def test_discord_outage_right_after_the_final_status_is_made_good_after_restart(
    sb: Sandbox, outcome: str
) -> None:
    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    rules = _outage(sb, review.id)
    await _decide(flow, review, item.id, outcome)
    finished = await _finished(sb, item.id, outcome)
    await _tried(sb, rules)
    assert _notices(sb, finished) == []
    for rule in rules:
        rule.remaining = 0

    await sb.restart()
    words = f"#{finished.issue_number}" if outcome == "filed" else "Works as intended"
    await _shows_outcome(sb, flow, review.id, words)
    await sb.discord.state.signal.wait_for(
        lambda: _notices(sb, finished) or None, WAIT, "the notice to the reporter"
    )
    (notice,) = _notices(sb, finished)
    assert words.lstrip("#") in notice.content
    await flow.delivered(item.id)


async def test_stop_right_after_filing_tells_the_reporter_once_after_restart(
    sb: Sandbox,
) -> None:
    """Discord holds the bot's calls (429) until the process stops: the drain gives up."""
    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    held = [
        sb.discord.inject_failure(
            method,
            pattern,
            status=429,
            count=OUTAGE,
            retry_after=600.0,
        )
        for method, pattern in (
            ("PATCH", rf"/channels/{sb.discord.review_channel_id}/messages/{review.id}$"),
            ("POST", rf"/channels/{sb.discord.feedback_channel_id}/messages$"),
        )
    ]
    await flow.click(review, "approve", item.id)
    filed = await _finished(sb, item.id, "filed")
    await sb.discord.state.signal.wait_for(
        lambda: True if held[0].hits else None, WAIT, "the review edit to be held"
    )
    await sb.stop()
    for rule in held:
        rule.remaining = 0
    assert _notices(sb, filed) == []

    await sb.start()
    await _shows_outcome(sb, flow, review.id, f"#{filed.issue_number}")
    await sb.discord.state.signal.wait_for(
        lambda: _notices(sb, filed) or None, WAIT, "the notice to the reporter"
    )
    assert len(_notices(sb, filed)) == 1


async def _marked_pending_again(sb: Sandbox, item_id: int) -> int:
    """Forget that the item's rows were sent (a crash between delivering and marking)."""
    stmt = (
        update(OutboxMessage)
        .where(col(OutboxMessage.item_id) == item_id)
        .values(sent_at=None, attempts=0)
    )
    return int(await sb.services.db.write(lambda conn: conn.execute(stmt).rowcount))


async def test_a_restart_after_everything_was_delivered_sends_nothing_again(
    sb: Sandbox,
) -> None:
    existing = sb.github.add_issue(sb.repo, title="Crash when exporting", body="Known crash.")
    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    opened = await flow.click(review, "duplicate", item.id)
    await flow.submit(opened, {"issue_number": str(existing.number)}, review)
    linked = await _finished(sb, item.id, "duplicate")
    await _shows_outcome(sb, flow, review.id, f"#{existing.number}")
    await sb.discord.state.signal.wait_for(
        lambda: _notices(sb, linked) or None, WAIT, "the notice to the reporter"
    )
    await flow.delivered(item.id)
    assert len(existing.comments) == 1
    sent = _bot_messages(sb, linked)

    await sb.restart()
    assert await _marked_pending_again(sb, item.id) == 3
    await sb.restart()  # start-up delivers every pending row
    await flow.delivered(item.id)
    assert _bot_messages(sb, linked) == sent
    assert len(_notices(sb, linked)) == 1
    assert len(existing.comments) == 1
    events = [e.action for e in await sb.services.items.events(item.id)]
    assert events.count("reporter_notified:duplicate") == 1
    assert events.count("duplicate_comment") == 1


async def test_forget_removes_the_persons_pending_deliveries(sb: Sandbox) -> None:
    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    rules = _outage(sb, review.id)
    await flow.click(review, "approve", item.id)
    filed = await _finished(sb, item.id, "filed")
    await _tried(sb, rules)
    outbox = OutboxRepository(sb.services.db)
    assert len(await outbox.pending(item_id=item.id)) == 2
    review_edits, *to_reporter = rules
    review_edits.remaining = 0  # /forget empties the review message

    question = await _ask(sb, "me", {}, sb.reporter)
    assert "1 feedback item(s)" in question.content
    await _confirmed(sb, question, sb.reporter)
    assert await outbox.pending(item_id=item.id) == []
    for rule in to_reporter:
        rule.remaining = 0
    await sb.restart()
    delivery = sb.bot.get_cog("Approvals").notifier.outbox  # type: ignore[union-attr]
    assert await delivery.deliver_due(everything=True) == 0
    assert _notices(sb, filed) == []


async def test_unreachable_reporter_ends_the_notice_with_the_error(sb: Sandbox) -> None:
    """403 on the reply and closed DMs: given up at once, not retried forever."""
    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    sb.discord.block_dms(sb.reporter)
    refused = sb.discord.inject_failure(
        "POST", rf"/channels/{sb.discord.feedback_channel_id}/messages$", status=403, count=OUTAGE
    )
    await flow.click(review, "approve", item.id)
    filed = await _finished(sb, item.id, "filed")
    await flow.delivered(item.id)
    assert refused.hits >= 1 and _notices(sb, filed) == []
    (notice,) = [r for r in await _rows(sb, item.id) if r.kind == REPORTER_NOTICE]
    assert notice.sent_at is not None and notice.attempts == 0
    assert "cannot be reached" in (notice.last_error or "")


async def test_transient_failures_are_retried_later_and_given_up_after_the_cap(
    sb: Sandbox,
) -> None:
    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    rules = _outage(sb, review.id)
    await flow.click(review, "approve", item.id)
    await _finished(sb, item.id, "filed")
    await _tried(sb, rules)
    outbox = OutboxRepository(sb.services.db)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while any(r.attempts == 0 for r in await outbox.pending(item_id=item.id)):
        assert loop.time() < deadline, "the fast path's failures are counted"
        await asyncio.sleep(0.05)
    pending = await outbox.pending(item_id=item.id)
    assert {r.kind for r in pending} == {REVIEW_UPDATE, REPORTER_NOTICE}
    assert all(r.next_attempt_at > utcnow() for r in pending), "not due before the delay"

    delivery = sb.bot.get_cog("Approvals").notifier.outbox  # type: ignore[union-attr]
    assert await delivery.deliver_due() == 0
    assert [r.attempts for r in await outbox.pending(item_id=item.id)] == [1, 1]
    for _ in range(3 * MAX_ATTEMPTS):  # a periodic run may take some of the attempts
        if not await outbox.pending(item_id=item.id):
            break
        await delivery.deliver_due(everything=True)
    assert await outbox.pending(item_id=item.id) == []
    for row in await _rows(sb, item.id):
        assert row.sent_at is not None and (row.last_error or "").startswith("gave up")


async def test_a_notice_discord_accepted_without_answering_is_not_sent_twice(
    sb: Sandbox,
) -> None:
    """The reply is stored but its answer is a 503: the retry gets it back by its nonce."""
    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    lost = sb.discord.inject_failure(
        "POST",
        rf"/channels/{sb.discord.feedback_channel_id}/messages$",
        status=503,
        after_effect=True,
    )
    await flow.click(review, "approve", item.id)
    filed = await _finished(sb, item.id, "filed")
    outbox = OutboxRepository(sb.services.db)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not any(r.attempts for r in await outbox.pending(item_id=item.id)):
        assert loop.time() < deadline, "the lost answer counts as a failed attempt"
        await asyncio.sleep(0.05)
    assert lost.hits == 1 and len(_notices(sb, filed)) == 1

    delivery = sb.bot.get_cog("Approvals").notifier.outbox  # type: ignore[union-attr]
    await delivery.deliver_due(everything=True)
    await flow.delivered(item.id)
    assert len(_notices(sb, filed)) == 1
    events = [e.action for e in await sb.services.items.events(item.id)]
    assert events.count("reporter_notified:filed") == 1


async def _rows(sb: Sandbox, item_id: int) -> list[OutboxMessage]:
    """Every outbox row of the item, delivered or not."""
    stmt = select(OutboxMessage).where(col(OutboxMessage.item_id) == item_id)
    async with sb.services.db.sessions() as session:
        return list((await session.execute(stmt)).scalars())


async def test_a_marker_someone_else_posted_does_not_stop_the_duplicate_comment(
    sb: Sandbox,
) -> None:
    existing = sb.github.add_issue(sb.repo, title="Crash when exporting", body="Known crash.")
    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    for author, body in (
        ("mallory", f"first!\n{item_marker(item.id)}"),
        (sb.github.login, f"```\n{item_marker(item.id)}\n```\n{item_marker(item.id + 1)}"),
    ):
        existing.comments.append(
            github_json.comment(
                sb.github.url,
                sb.repo,
                existing.number,
                comment_id=len(existing.comments) + 9000,
                body=body,
                user=github_json.user(sb.github.url, author),
                at=utcnow(),
            )
        )
    opened = await flow.click(review, "duplicate", item.id)
    await flow.submit(opened, {"issue_number": str(existing.number)}, review)
    await _finished(sb, item.id, "duplicate")
    await flow.delivered(item.id)
    ours = [c for c in existing.comments[2:] if c["user"]["login"] == sb.github.login]
    assert len(ours) == 1, existing.comments
    assert last_marker(ours[0]["body"]) == item.id


async def test_rows_of_guilds_this_process_does_not_serve_never_hide_its_own(
    sb: Sandbox,
) -> None:
    stranger, _ = await sb.services.items.create(
        item=FeedbackItemBase(
            source_kind="channel",
            source_key="message:1",
            guild_id=999,
            author_name="someone",
            raw_text="A report from a server the bot no longer serves.",
        ),
        actor="test",
    )
    assert stranger.id is not None
    stale = [
        {"item_id": stranger.id, "guild_id": 999, "kind": REPORTER_NOTICE, "payload": {}}
        for _ in range(250)
    ]
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    await sb.services.db.write(lambda conn: conn.execute(table.insert(), stale))

    flow = Flow(sb)
    item, review = await flow.report(BUG_REPORT)
    assert item.id is not None
    rules = _outage(sb, review.id)
    await _decide(flow, review, item.id, "filed")
    finished = await _finished(sb, item.id, "filed")
    await _tried(sb, rules)
    for rule in rules:
        rule.remaining = 0

    delivery = sb.bot.get_cog("Approvals").notifier.outbox  # type: ignore[union-attr]
    await delivery.deliver_due(everything=True)
    assert len(_notices(sb, finished)) == 1
