"""Filing reaches GitHub exactly once: late 502s and Retry, crashes, markers, App credentials."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agents.triage.render import MARKER_PATTERN
from bot.sandbox.stack import Sandbox
from storage.models import ItemStatus
from tests.cogs.approvals.backends import BACKENDS, sandbox_on

WAIT = 30.0
CREATE = "POST /repos/acme/widgets/issues"
LISTING = "GET /repos/acme/widgets/issues"


async def _failures(sb: Sandbox, item_id: int) -> int:
    events = await sb.services.items.events(item_id)
    return sum(1 for event in events if event.to_status == ItemStatus.FAILED)


async def _wait_failures(sb: Sandbox, item_id: int, count: int, review_id: int) -> None:
    """Wait for the item's `count`-th failure and for its review to offer Retry again."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while await _failures(sb, item_id) < count:
        item = await sb.item(item_id)
        assert loop.time() < deadline, f"item {item_id} never failed {count} times: {item}"
        await asyncio.sleep(0.05)
    await sb.wait_for_item_status(item_id, ItemStatus.FAILED, within=WAIT)
    await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: m.id == review_id and m.has_component(f"approvals:retry:{item_id}"),
        timeout=WAIT,
    )


def _bot_issues_for(sb: Sandbox, item_id: int) -> list[Any]:
    """Issues the bot wrote whose last marker names the item."""
    found = []
    for issue in sb.github.issues_in(sb.repo):
        markers = MARKER_PATTERN.findall(issue.body or "")
        if issue.author == sb.github.login and markers and int(markers[-1]) == item_id:
            found.append(issue)
    return found


@pytest.mark.parametrize("auth", ["token", "installation-token", "app"])
@pytest.mark.parametrize("backend", BACKENDS)
async def test_502_after_every_create_and_two_retries_file_exactly_one_issue(
    backend: str, auth: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model, github_auth=auth) as sb:
        flow = flow_for(sb)
        item, review = await flow.report()
        sb.github.fail_next(CREATE, status=502, times=50, after_processing=True)
        sb.github.fail_next(LISTING, status=502, times=1000)  # and the look-up fails, for now
        await flow.click(review, "approve", item.id)
        await _wait_failures(sb, item.id, 1, review.id)
        assert len(sb.github.issues_in(sb.repo)) == 1, "GitHub made the issue, then said 502"

        await flow.click(review, "retry", item.id)
        await _wait_failures(sb, item.id, 2, review.id)
        sb.github.clear_faults(LISTING)
        await flow.click(review, "retry", item.id)
        filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)

        issues = sb.github.issues_in(sb.repo)
        assert [i.number for i in issues] == [filed.issue_number]
        assert len(sb.github.requests_to("POST", "/repos/acme/widgets/issues")) == 1
        assert sb.github.requests_to("GET", "/user") == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_forged_markers_are_inert_and_a_crash_recovers_only_the_bots_issue(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    async with sandbox_on(backend, tmp_path, sentence_model) as sb:
        flow = flow_for(sb)
        forged = "<!-- iterateswarm:item:2 -->"
        first, review = await flow.report(
            "The export button crashes the app every time I press it. "
            f"{forged} <!-- a note only the bot sees --> and after it <!-- never closed"
        )
        assert first.id == 1, "a fresh database numbers its first item 1"
        opened = await flow.click(review, "edit", first.id)
        body = f"Export crashes the app.\n\n{forged}\n<!-- hidden from readers -->"
        await flow.submit(opened, {"body": body}, review)
        await sb.wait_for_item(
            lambda i: forged in str((i.spec or {}).get("description")), item_id=first.id
        )
        await flow.shows_current_draft(review.id, first.id)
        await flow.click(review, "approve", first.id)
        filed = await sb.wait_for_item_status(first.id, ItemStatus.FILED, within=WAIT)
        (issue,) = sb.github.issues_in(sb.repo)
        assert MARKER_PATTERN.findall(issue.body or "") == ["1"]
        assert (issue.body or "").count("<!--") == 1, "every other HTML comment is defused"
        assert "a note only the bot sees" in (issue.body or ""), "the reporter's words stay"
        assert filed.issue_number == issue.number

        decoy = sb.github.add_issue(sb.repo, title="bait", body=forged, author="mallory")
        second, review = await flow.report(
            "Search results never load on the dashboard, the spinner runs forever."
        )
        assert second.id == 2
        sb.github.delay_next(CREATE, seconds=60, after_processing=False)
        await flow.click(review, "approve", second.id)
        await sb.wait_for_item_status(second.id, ItemStatus.FILING, within=WAIT)
        await sb.restart()  # the process goes away while GitHub has not answered yet

        recovered = await sb.wait_for_item_status(second.id, ItemStatus.FILED, within=WAIT)
        assert recovered.issue_number not in (issue.number, decoy.number)
        (own,) = _bot_issues_for(sb, second.id)
        assert own.number == recovered.issue_number


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_github_app_files_as_its_bot_and_renews_its_token(
    backend: str, tmp_path: Path, sentence_model: Any, flow_for: Any
) -> None:
    # githubkit renews a token a minute before its expiry: 62 s tokens last 1 to 2 s here.
    async with sandbox_on(
        backend, tmp_path, sentence_model, github_auth="app", github_token_lifetime=62
    ) as sb:
        flow = flow_for(sb)
        app = sb.github.auth.app
        assert app is not None
        filed = []
        for text in (
            "The export button crashes the app every time I press it.",
            "Search results never load on the dashboard, the spinner runs forever.",
        ):
            item, review = await flow.report(text)
            await asyncio.sleep(2.5)  # the token from the last filing has expired meanwhile
            await flow.click(review, "approve", item.id)
            filed.append(await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT))

        issues = sb.github.issues_in(sb.repo)
        assert [i.number for i in issues] == [f.issue_number for f in filed]
        assert {i.author for i in issues} == {app.bot_login}
        assert len(app.tokens_issued) >= 2, "the installation token was renewed"
        assert all(r.authorized for r in sb.github.requests), "no call used an expired token"
        assert sb.github.requests_to("GET", "/user") == []
