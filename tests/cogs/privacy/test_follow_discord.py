"""Messages deleted or edited on Discord: the bot's records follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox.discord import FakeUser
from bot.sandbox.stack import Sandbox
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from tests.e2e.harness import embed_text, field_value, strip_escapes
from tests.sandboxes import sandbox_on

WAIT = 30.0
#: One triage start per user per window: a user's second message waits, untriaged.
WINDOW_SECONDS = 4
BUG = (
    "The calendar view crashes when I open next month. Steps: open Calendar, press the right "
    "arrow. I expected next month, the app closed instead. Version 3.1 on Android 14."
)
SECOND_BUG = (
    "Notifications arrive twice on my phone for every new comment. Steps: comment on a task "
    "from the web. I expected one notification, I got two. Version 3.1 on iOS 17."
)
EDITED = (
    "Notifications arrive three times on my tablet for every mention. Steps: mention me in a "
    "task. I expected one notification, I got three. Version 3.1 on iPadOS 17."
)


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder, db_url: str) -> AsyncIterator[Sandbox]:
    env = {"RATE_LIMIT_ITEMS": "1", "RATE_LIMIT_WINDOW": f"{WINDOW_SECONDS}s"}
    async with sandbox_on(db_url, tmp_path, embedder, **env) as sandbox:
        yield sandbox


async def _post(sb: Sandbox, author: FakeUser, text: str) -> tuple[int, FeedbackItem]:
    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, author, text)
    message_id = int(posted["id"])
    return message_id, await sb.wait_for_item_from_message(message_id, within=WAIT)


async def _review_saying(sb: Sandbox, review_id: int, words: str) -> str:
    def check() -> str | None:
        message = sb.discord.message(review_id)
        shown = strip_escapes(embed_text(message)) if message is not None else ""
        return shown if words in shown else None

    return await sb.discord.state.signal.wait_for(check, WAIT, f"{words!r} on the review")


async def test_a_message_deleted_under_review_withdraws_it_and_approve_is_refused(
    sb: Sandbox,
) -> None:
    message_id, item = await _post(sb, sb.reporter, BUG)
    assert item.id is not None
    review_id = await sb.wait_for_review_message(item.id, within=WAIT)

    await sb.discord.delete_user_message(message_id)
    shown = await _review_saying(sb, review_id, "withdrawn by the reporter".capitalize())
    assert "calendar" not in shown.lower() and sb.reporter.name not in shown
    review = sb.discord.message(review_id)
    assert review is not None and not review.custom_ids()
    clicked = await sb.discord.click_button(
        review_id, f"approvals:approve:{item.id}", sb.maintainer, check_exists=False
    )
    answer = await clicked.wait_for(lambda r: bool(r.content), timeout=WAIT)
    assert "already withdrawn" in (answer.content or "")

    withdrawn = await sb.item(item.id)
    assert withdrawn is not None and withdrawn.status == ItemStatus.WITHDRAWN
    assert (withdrawn.raw_text, withdrawn.author_name, withdrawn.spec) == ("", "", None)
    assert withdrawn.flow_done
    assert sb.services.dedup is not None
    assert await sb.services.dedup.store.get(sb.repo, [f"feedback:{item.id}"]) == {}
    state = await sb.services.runner.graph.aget_state({"configurable": {"thread_id": str(item.id)}})
    assert not state.values, "the graph's checkpoints are gone"
    assert sb.github.issues_in(sb.repo) == []


async def test_a_message_deleted_before_review_takes_its_item_along(sb: Sandbox) -> None:
    user = sb.discord.add_user("hasty")
    await _post(sb, user, BUG)
    waiting_id, waiting = await _post(sb, user, SECOND_BUG)
    assert waiting.status == ItemStatus.RECEIVED, "deferred by the rate limit"

    await sb.discord.delete_user_message(waiting_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while await sb.item(waiting.id or 0) is not None:
        assert loop.time() < deadline, "the item was not removed"
        await asyncio.sleep(0.05)
    await asyncio.sleep(WINDOW_SECONDS + 1)  # its deferred triage would have started by now
    assert await sb.services.items.get_by_source(f"message:{waiting_id}") is None
    reviews = sb.discord.messages_in(sb.discord.review_channel_id)
    assert not [m for m in reviews if "twice on my phone" in strip_escapes(embed_text(m))]


async def test_an_edit_before_triage_is_triaged_in_its_edited_form(sb: Sandbox) -> None:
    user = sb.discord.add_user("editor")
    await _post(sb, user, BUG)
    waiting_id, waiting = await _post(sb, user, SECOND_BUG)
    assert waiting.status == ItemStatus.RECEIVED and waiting.id is not None

    await sb.discord.edit_user_message(waiting_id, EDITED)
    review_id = await sb.wait_for_review_message(waiting.id, within=WAIT + WINDOW_SECONDS)
    triaged = await sb.item(waiting.id)
    assert triaged is not None and triaged.raw_text == EDITED and triaged.edited_text is None
    original = field_value(sb.discord.message(review_id), "Original feedback")  # type: ignore[arg-type]
    assert original is not None and "three times" in strip_escapes(original)


async def test_an_edit_after_review_is_shown_on_the_review(sb: Sandbox) -> None:
    message_id, item = await _post(sb, sb.reporter, SECOND_BUG)
    assert item.id is not None
    review_id = await sb.wait_for_review_message(item.id, within=WAIT)

    await sb.discord.edit_user_message(message_id, EDITED)
    shown = await _review_saying(sb, review_id, "Edited by the reporter")
    assert "three times on my tablet" in shown
    assert "twice on my phone" in shown, "the triaged text stays as it was"
    edited = await sb.item(item.id)
    assert edited is not None and edited.edited_text == EDITED
    review = sb.discord.message(review_id)
    assert review is not None and review.has_component(f"approvals:approve:{item.id}")
