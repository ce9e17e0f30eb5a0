"""Decisions on one item are applied in order: an Approve right after an Edit files the edit.

An Approve button carries the revision of the draft it was shown with: one shown before an
Edit is refused, and the refreshed review's files the edit. Buttons without a revision
(rendered by an older version) are taken in order like any decision.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.stack import Sandbox
from storage.models import FeedbackItem, ItemStatus
from tests.cogs.approvals.backends import BACKENDS, sandbox_on
from tests.cogs.approvals.conftest import Flow

WAIT = 30.0
ROUNDS = 20
REPORTS = (
    "The export button crashes the app every time I press it on the settings page.",
    "Search results never load on the dashboard, the spinner runs forever.",
    "Dark mode resets to light after every restart of the desktop client.",
    "Uploading a PNG larger than 2 MB fails with an unknown error message.",
)


async def _edit(flow: Flow, item: FeedbackItem, review: Any, title: str) -> None:
    """Submit an Edit of the title and labels; returns once it is acknowledged."""
    assert item.id is not None
    opened = await flow.click(review, "edit", item.id)
    submitted = await flow.submit(opened, {"title": title, "labels": "bug, edited"}, review)
    assert (await flow.answer(submitted)).startswith("Edited")


async def _edit_then_approve(flow: Flow, item: FeedbackItem, review: Any, title: str) -> float:
    """Submit an Edit, and click an Approve without a revision (an old button) as soon as the
    edit is acknowledged; returns the gap."""
    assert item.id is not None
    await _edit(flow, item, review, title)
    loop = asyncio.get_running_loop()
    acknowledged = loop.time()
    approve = await flow.sb.discord.click_button(
        review.id, f"approvals:approve:{item.id}", flow.sb.maintainer, check_exists=False
    )
    gap = loop.time() - acknowledged
    assert (await flow.answer(approve)).startswith("Approved")
    return gap


def _assert_filed_with_edit(sb: Sandbox, filed: FeedbackItem, title: str) -> None:
    issues = [i for i in sb.github.issues_in(sb.repo) if i.number == filed.issue_number]
    assert len(issues) == 1
    assert issues[0].title == title, "the issue carries the maintainer's edit"
    assert "edited" in issues[0].labels


def _no_review_buttons(flow: Flow, review_id: int) -> bool:
    return flow.approvals_buttons(review_id) == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_edit_then_approve_within_100ms_always_files_the_edit(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model) as sb:
        flow: Flow = flow_for(sb)
        gaps: list[float] = []
        rounds: list[tuple[FeedbackItem, Any, str]] = []
        for n in range(ROUNDS):
            reporter = sb.discord.add_user(f"reporter-{n}")  # per-person rate limits stay out
            item, review = await flow.report(f"{REPORTS[n % len(REPORTS)]} (report {n})", reporter)
            title = f"Edited title of report {n}"
            gaps.append(await _edit_then_approve(flow, item, review, title))
            rounds.append((item, review, title))
        assert max(gaps) < 0.1, f"each Approve followed its Edit within 100 ms: {gaps}"

        for item, review, title in rounds:
            assert item.id is not None
            filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
            _assert_filed_with_edit(sb, filed, title)
            await sb.discord.wait_for_message(
                sb.discord.review_channel_id,
                lambda m, rid=review.id: m.id == rid and _no_review_buttons(flow, rid),
                timeout=WAIT,
            )
        assert len(sb.github.issues_in(sb.repo)) == ROUNDS
        stranded = await sb.services.items.list_by_status([ItemStatus.APPROVED])
        assert stranded == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_reconcile_files_an_item_stranded_in_approved_once(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any, monkeypatch: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model) as sb:
        flow: Flow = flow_for(sb)
        item, review = await flow.report()
        assert item.id is not None
        runner = sb.services.runner
        # The process loses the runs the decisions started (a crash between the decision
        # being stored and the graph acting on it).
        monkeypatch.setattr(runner, "submit", lambda *_args, **_kwargs: None)
        title = "Export crashes the settings page"
        await _edit_then_approve(flow, item, review, title)
        await asyncio.sleep(0.5)
        stranded = await sb.item(item.id)
        assert stranded is not None and stranded.status == ItemStatus.APPROVED
        assert sb.github.issues_in(sb.repo) == []
        monkeypatch.undo()

        assert await runner.reconcile(older_than=0) >= 1
        filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
        _assert_filed_with_edit(sb, filed, title)
        await runner.reconcile(older_than=0)
        await asyncio.sleep(0.5)
        assert len(sb.github.issues_in(sb.repo)) == 1
        assert len(sb.github.requests_to("POST", "/repos/acme/widgets/issues")) == 1


@pytest.mark.parametrize("backend", BACKENDS)
async def test_approve_shown_before_an_edit_is_refused_and_the_refreshed_one_files_it(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model) as sb:
        flow: Flow = flow_for(sb)
        item, review = await flow.report()
        assert item.id is not None
        before = sb.discord.component_id(review.id, f"approvals:approve:{item.id}")
        title = "Export crashes on the settings page"
        await _edit(flow, item, review, title)

        stale = await sb.discord.click_button(review.id, before, sb.maintainer, check_exists=False)
        assert await flow.answer(stale) == (
            "The draft changed since this was shown; "
            "the review is updated, check it and Approve again."
        )
        refreshed = await sb.discord.wait_for_message(
            sb.discord.review_channel_id,
            lambda m: m.id == review.id and title in str(m.embeds),
            timeout=WAIT,
        )
        current = refreshed.component_id(f"approvals:approve:{item.id}")
        assert current != before
        waiting = await sb.item(item.id)
        assert waiting is not None and waiting.status == ItemStatus.AWAITING_REVIEW
        assert sb.github.issues_in(sb.repo) == []

        again = await sb.discord.click_button(review.id, current, sb.maintainer)
        assert (await flow.answer(again)).startswith("Approved")
        filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
        _assert_filed_with_edit(sb, filed, title)
