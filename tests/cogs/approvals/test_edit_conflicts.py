"""An Edit saves only while the draft it was opened on is current; otherwise nothing changes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.discord import FakeInteraction, FakeUser
from bot.sandbox.stack import Sandbox
from storage.decisions import DECISION_ACTION
from storage.models import FeedbackItem
from tests.cogs.approvals.backends import BACKENDS, sandbox_on
from tests.cogs.approvals.conftest import Flow

WAIT = 30.0
NOT_SAVED = "nothing was saved"


def _second_maintainer(sb: Sandbox) -> FakeUser:
    return sb.discord.add_user("otto-maintainer", roles=[sb.discord.maintainer_role_id])


async def _spec_title(sb: Sandbox, item_id: int, title: str) -> FeedbackItem:
    """The item once the graph has folded the edit that set `title` into its draft."""
    return await sb.wait_for_item(
        lambda i: (i.spec or {}).get("title") == title, item_id=item_id, within=WAIT
    )


async def _edit_decisions(sb: Sandbox, item_id: int) -> int:
    events = await sb.services.items.events(item_id)
    return sum(
        1
        for e in events
        if e.action == DECISION_ACTION and (e.details or {}).get("action") == "edit"
    )


async def _answer(flow: Flow, submitted: FakeInteraction) -> tuple[str, Any]:
    """The text the maintainer saw, and the allowed mentions it was sent with."""
    said = await flow.answer(submitted)
    response = submitted.followups[-1] if submitted.followups else submitted.callback
    assert response is not None
    return said, response.allowed_mentions


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_edit_opened_before_another_was_saved_changes_nothing(
    backend: str, tmp_path: Path, sentence_model: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model) as sb:
        flow = Flow(sb)
        other = _second_maintainer(sb)
        item, review = await flow.report()
        assert item.id is not None and item.spec is not None
        opened_a = await flow.click(review, "edit", item.id)
        opened_b = await flow.click(review, "edit", item.id, user=other)

        title = "Export closes the settings window"
        a = await flow.submit_as_shown(opened_a, {"title": title, "labels": "bug, export"}, review)
        assert (await flow.answer(a)).startswith("Edited")
        edited = await _spec_title(sb, item.id, title)
        body = "Steps: open the settings page and click Export."
        b = await flow.submit_as_shown(opened_b, {"body": body}, review, user=other)
        said, mentions = await _answer(flow, b)

        assert NOT_SAVED in said and "Open Edit again" in said
        assert sb.maintainer.mention in said, "names who changed the draft"
        assert body in said and item.spec["title"] in said, "what they typed comes back"
        assert mentions == {"parse": []}
        await asyncio.sleep(0.5)  # a wrongly accepted edit would be folded in by now
        current = await sb.item(item.id)
        assert current is not None and current.spec is not None
        assert current.spec["title"] == title
        assert current.spec["labels"] == ["bug", "export"]
        assert current.spec == edited.spec, "the second edit changed nothing"
        assert await _edit_decisions(sb, item.id) == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_of_two_edits_submitted_at_once_on_one_draft_exactly_one_is_saved(
    backend: str, tmp_path: Path, sentence_model: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model) as sb:
        flow = Flow(sb)
        other = _second_maintainer(sb)
        item, review = await flow.report()
        assert item.id is not None
        for n in range(3):
            opened_a = await flow.click(review, "edit", item.id)
            opened_b = await flow.click(review, "edit", item.id, user=other)
            titles = (f"Round {n}: title by Maya", f"Round {n}: title by Otto")
            submitted = await asyncio.gather(
                flow.submit_as_shown(opened_a, {"title": titles[0]}, review),
                flow.submit_as_shown(opened_b, {"title": titles[1]}, review, user=other),
            )
            said = [await flow.answer(s) for s in submitted]
            saved = [s.startswith("Edited") for s in said]
            assert sorted(saved) == [False, True], said
            winner, loser = (0, 1) if saved[0] else (1, 0)
            assert NOT_SAVED in said[loser] and titles[loser] in said[loser]
            await _spec_title(sb, item.id, titles[winner])
            assert await _edit_decisions(sb, item.id) == n + 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_edit_modal_from_before_draft_revisions_still_edits(
    backend: str, tmp_path: Path, sentence_model: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model) as sb:
        flow = Flow(sb)
        item, review = await flow.report()
        assert item.id is not None
        old = await sb.discord.submit_modal(
            f"approvals:edit:{item.id}",
            {"title": "Export closes the window", "labels": "bug, legacy"},
            sb.maintainer,
            message_id=review.id,
        )
        assert (await flow.answer(old)).startswith("Edited")
        edited = await _spec_title(sb, item.id, "Export closes the window")
        assert edited.spec is not None and edited.spec["labels"] == ["bug", "legacy"]


async def test_a_long_text_that_was_not_saved_comes_back_as_a_file(sb: Sandbox, flow: Flow) -> None:
    other = _second_maintainer(sb)
    item, review = await flow.report()
    assert item.id is not None
    opened_a = await flow.click(review, "edit", item.id)
    opened_b = await flow.click(review, "edit", item.id, user=other)
    a = await flow.submit_as_shown(opened_a, {"title": "Export closes the window"}, review)
    assert (await flow.answer(a)).startswith("Edited")
    await _spec_title(sb, item.id, "Export closes the window")
    body = "Clicking Export closes the window. " * 110 + "```the last line```"
    b = await flow.submit_as_shown(opened_b, {"body": body}, review, user=other)

    said = await flow.answer(b)
    assert NOT_SAVED in said and "attached" in said and len(said) <= 2000
    sent = sb.discord.message(b.followups[-1].message_id or 0)
    assert sent is not None
    (attachment,) = sent.payload["attachments"]
    assert attachment["filename"] == f"edit-{item.id}.md"
    assert body.strip() in sb.discord.attachment_bytes(attachment).decode()
