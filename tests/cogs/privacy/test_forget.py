"""/forget over the wire: a person's texts, names and ids leave every store; others stay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.discord import FakeInteraction, FakeUser, StoredMessage
from bot.sandbox.stack import Sandbox
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from tests.sandboxes import sandbox_on
from tests.traces import checkpoint_file_traces, database_traces, index_traces

WAIT = 30.0
#: A word only this reporter uses, so any copy of their text is easy to find.
MARK = "quokkaberry"
REPORTS = (
    f"The {MARK} export crashes the app every time I save a CSV file. Steps: open settings, "
    "press Export. I expected a download but the window closed. Version 2.4 on Windows 11.",
    f"Please add a {MARK} dark mode to the dashboard; the white screen hurts at night.",
    f"Logging in with {MARK} single sign-on fails with error 500 since yesterday. Steps: click "
    "Sign in with SSO. I expected the dashboard, got an error page. Version 2.4 on macOS.",
)
OTHER = (
    "Exporting a CSV file crashes the whole app when I save it. Steps: open settings, press "
    "Export. I expected a file, but the app closed. Version 2.4 on Linux."
)


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder, db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox_on(db_url, tmp_path, embedder) as sandbox:
        yield sandbox


async def _reviewed(sb: Sandbox, author: FakeUser, text: str) -> tuple[FeedbackItem, int]:
    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, author, text)
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.id is not None
    review_id = await sb.wait_for_review_message(item.id, within=WAIT)
    return item, review_id


async def _click(
    sb: Sandbox, message_id: int, custom_id: str, user: FakeUser, *, stale: bool = False
) -> FakeInteraction:
    """Click a button; `stale`: one the message no longer shows (an old client's view)."""
    interaction = await sb.discord.click_button(message_id, custom_id, user, check_exists=not stale)
    await interaction.wait_response(timeout=5)
    return interaction


async def _answer(interaction: FakeInteraction) -> str:
    response = await interaction.wait_for(lambda r: bool(r.content), timeout=WAIT)
    return response.content or ""


async def _ask(sb: Sandbox, name: str, options: dict[str, Any], user: FakeUser) -> StoredMessage:
    """Run /forget …; return the confirmation message with its buttons."""
    interaction = await sb.discord.slash_command(f"forget {name}", options, user)
    followup = await interaction.wait_for(lambda r: r.kind == "followup", timeout=WAIT)
    assert followup.ephemeral and followup.message_id is not None
    stored = sb.discord.message(followup.message_id)
    assert stored is not None
    return stored


async def _once_it_says(sb: Sandbox, message_id: int, words: str) -> StoredMessage:
    def check() -> StoredMessage | None:
        message = sb.discord.message(message_id)
        return message if message is not None and words in message.content else None

    return await sb.discord.state.signal.wait_for(check, WAIT, f"{words!r} in {message_id}")


async def _confirmed(sb: Sandbox, question: StoredMessage, user: FakeUser) -> str:
    forget = next(c for c in question.custom_ids() if c.startswith("privacy:forget:"))
    await _click(sb, question.id, forget, user)
    done = await _once_it_says(sb, question.id, "Done")
    assert not done.custom_ids(), "the buttons are gone"
    return done.content


async def _decide(sb: Sandbox, review_id: int, action: str, item_id: int, **fields: str) -> None:
    shown = sb.discord.component_id(review_id, f"approvals:{action}:{item_id}")
    opened = await _click(sb, review_id, shown, sb.maintainer)
    if fields:
        assert opened.callback is not None and opened.callback.custom_id is not None
        submitted = await sb.discord.submit_modal(
            opened.callback.custom_id, fields, sb.maintainer, message_id=review_id
        )
        await submitted.wait_response(timeout=5)


async def test_forget_me_leaves_no_text_name_or_id_and_keeps_everyone_else(sb: Sandbox) -> None:
    rin = sb.discord.add_user("rin-quokka")
    filed, filed_review = await _reviewed(sb, rin, REPORTS[0])
    rejected, rejected_review = await _reviewed(sb, rin, REPORTS[1])
    waiting, waiting_review = await _reviewed(sb, rin, REPORTS[2])
    other, other_review = await _reviewed(sb, sb.reporter, OTHER)
    await _decide(sb, filed_review, "approve", filed.id or 0)
    filed = await sb.wait_for_item_status(filed.id or 0, ItemStatus.FILED, within=WAIT)
    await _decide(sb, rejected_review, "reject", rejected.id or 0, reason=f"no {MARK}, sorry")
    await sb.wait_for_item(lambda i: i.flow_done, item_id=rejected.id, within=WAIT)
    needles = [MARK, rin.name, str(rin.id)]
    store = sb.services.dedup.store if sb.services.dedup else None
    assert store is not None
    assert await database_traces(sb.services.db, needles), "the test sees what it looks for"
    assert index_traces(store, needles)

    question = await _ask(sb, "me", {}, rin)
    assert "3 feedback item(s)" in question.content
    assert filed.issue_url is not None and filed.issue_url in question.content
    report = await _confirmed(sb, question, rin)

    assert "3 feedback item(s)" in report and filed.issue_url in report
    assert await database_traces(sb.services.db, needles) == []
    assert checkpoint_file_traces(Path(sb.env["DATA_DIR"]), needles) == []
    assert index_traces(store, needles) == []
    for item in (filed, rejected, waiting):
        assert await sb.item(item.id or 0) is None
    for review_id, item in ((filed_review, filed), (waiting_review, waiting)):
        review = sb.discord.message(review_id)
        assert review is not None and not review.custom_ids()
        shown = str(review.embeds)
        assert f"Feedback #{item.id} removed" in shown
        assert MARK not in shown and rin.name not in shown
    assert filed.issue_url in str(sb.discord.message(filed_review).embeds)  # type: ignore[union-attr]
    clicked = await _click(
        sb, waiting_review, f"approvals:approve:{waiting.id}", sb.maintainer, stale=True
    )
    assert "can't find" in await _answer(clicked)

    kept = await sb.item(other.id or 0)
    assert kept is not None and kept.raw_text == OTHER and kept.status == ItemStatus.AWAITING_REVIEW
    other_message = sb.discord.message(other_review)
    assert other_message is not None
    assert other_message.has_component(f"approvals:approve:{other.id}")
    notice = await sb.discord.wait_for_message(
        sb.discord.review_channel_id, lambda m: "At a member's request" in m.content, timeout=WAIT
    )
    assert filed.issue_url in notice.content and rin.name not in notice.content
    assert len(sb.github.issues_in(sb.repo)) == 1, "nothing is deleted on GitHub"
    sb.discord.assert_never_pinged()


async def test_forget_user_needs_manage_server_and_confirmation_by_them(sb: Sandbox) -> None:
    rin = sb.discord.add_user("rin-quokka")
    item, _review = await _reviewed(sb, rin, REPORTS[2])

    refused = await sb.discord.slash_command("forget user", {"user": rin}, sb.maintainer)
    answer = await refused.wait_for(lambda r: r.kind == "followup", timeout=WAIT)
    assert "Manage Server" in (answer.content or "")

    question = await _ask(sb, "user", {"user": rin}, sb.discord.owner)
    keep = next(c for c in question.custom_ids() if c.startswith("privacy:keep:"))
    forget = next(c for c in question.custom_ids() if c.startswith("privacy:forget:"))
    clicked = await _click(sb, question.id, forget, rin)
    assert "Manage Server" in await _answer(clicked)
    await _click(sb, question.id, keep, sb.discord.owner)
    await _once_it_says(sb, question.id, "Nothing was removed")
    assert await sb.item(item.id or 0) is not None

    mine = await _ask(sb, "me", {}, sb.reporter)
    mine_forget = next(c for c in mine.custom_ids() if c.startswith("privacy:forget:"))
    clicked = await _click(sb, mine.id, mine_forget, rin)
    assert "Only the person who asked" in await _answer(clicked)

    again = await _ask(sb, "user", {"user": rin}, sb.discord.owner)
    report = await _confirmed(sb, again, sb.discord.owner)
    assert "1 feedback item(s)" in report
    assert await sb.item(item.id or 0) is None
