"""A draft longer than the review shows: the whole text on request, and an Edit that keeps it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.stack import Sandbox
from cogs.approvals._cog import NOT_A_MAINTAINER
from tests.cogs.approvals.backends import BACKENDS, sandbox_on
from tests.cogs.approvals.conftest import Flow

WAIT = 30.0
TAIL = "THE-LAST-SENTENCE-OF-THE-DRAFT"
LONG_DESCRIPTION = "Exporting fails in many ways. " + "It closes the window again. " * 320 + TAIL


async def _long_draft(sb: Sandbox, flow: Flow) -> tuple[int, int]:
    """An item in review whose drafted description is longer than the embed shows."""
    assert sb.openai is not None
    sb.openai.set_default({"description": LONG_DESCRIPTION})
    item, review = await flow.report()
    sb.openai.set_default("ok")
    assert item.id is not None and item.spec is not None
    assert item.spec["description"] == LONG_DESCRIPTION
    assert f"approvals:full:{item.id}" in review.custom_ids()
    return item.id, review.id


def _input(modal: Any, custom_id: str) -> dict[str, Any]:
    for row in modal.components:
        inner = row.get("components") or [row.get("component") or {}]
        for component in inner:
            if component.get("custom_id") == custom_id:
                return dict(component)
    raise AssertionError(f"no input {custom_id!r} in the modal")


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_maintainer_gets_the_whole_draft_privately(
    backend: str, tmp_path: Path, sentence_model: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model, llm=True) as sb:
        flow = Flow(sb)
        short, short_review = await flow.report(
            "Dark mode please: the settings page is too bright at night."
        )
        assert not [c for c in short_review.custom_ids() if c.startswith("approvals:full:")]
        asked = await sb.discord.click_button(
            short_review.id, f"approvals:full:{short.id}", sb.maintainer, check_exists=False
        )
        shown = await flow.answer(asked)  # a short draft comes as a message, no file
        assert short.spec is not None and shown.startswith(f"# {short.spec['title']}")
        as_text = sb.discord.message(asked.followups[-1].message_id or 0)
        assert "Labels:" in shown and as_text is not None and not as_text.payload["attachments"]
        item_id, review_id = await _long_draft(sb, flow)
        review = sb.discord.message(review_id)
        assert review is not None and TAIL not in str(review.embeds), "the embed is cut"

        outsider = await sb.discord.click_button(
            review_id, f"approvals:full:{item_id}", sb.reporter
        )
        assert await flow.answer(outsider) == NOT_A_MAINTAINER

        click = await sb.discord.click_button(review_id, f"approvals:full:{item_id}", sb.maintainer)
        answer = await click.wait_for(lambda r: r.kind == "followup", timeout=WAIT)
        assert answer.ephemeral and answer.allowed_mentions == {"parse": []}
        sent = sb.discord.message(answer.message_id or 0)
        assert sent is not None
        (attachment,) = sent.payload["attachments"]
        assert attachment["filename"] == f"draft-{item_id}.md"
        text = sb.discord.attachment_bytes(attachment).decode()
        assert LONG_DESCRIPTION in text and "Labels: bug" in text
        assert len(sb.discord.messages_in(sb.discord.review_channel_id)) == 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_editing_a_long_draft_keeps_its_body_unless_replaced(
    backend: str, tmp_path: Path, sentence_model: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model, llm=True) as sb:
        flow = Flow(sb)
        item_id, review_id = await _long_draft(sb, flow)
        review = sb.discord.message(review_id)
        assert review is not None
        opened = await flow.click(review, "edit", item_id)
        modal = opened.callback
        assert modal is not None
        body = _input(modal, "body")
        assert not body.get("value"), "the body is not pre-filled cut"
        said = f"{body.get('label')} {body.get('placeholder')}"
        assert "too long" in said and "Leave empty to keep it" in said
        labels = _input(modal, "labels").get("value") or ""
        submitted = await flow.submit(
            opened, {"title": "Export closes the window", "body": "", "labels": labels}, review
        )
        assert "Edited" in await flow.answer(submitted)
        for _ in range(int(WAIT / 0.05)):
            item = await sb.item(item_id)
            if item is not None and (item.spec or {}).get("title") == "Export closes the window":
                break
            await asyncio.sleep(0.05)
        assert item is not None and item.spec is not None
        assert item.spec["description"] == LONG_DESCRIPTION
        assert item.spec["labels"] == ["bug"]
        await flow.shows_current_draft(review_id, item_id)
        await flow.click(review, "approve", item_id)
        filed = await sb.wait_for_item(lambda i: i.issue_number is not None, item_id=item_id)
        (issue,) = [i for i in flow.issues() if i.number == filed.issue_number]
        assert TAIL in (issue.body or "") and issue.title == "Export closes the window"
