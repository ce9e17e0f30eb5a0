"""Duplicates: one GitHub comment per new reporter; the review shows how many people reported."""

from __future__ import annotations

from typing import Any

from bot.sandbox.stack import Sandbox
from storage.models import ItemStatus

WAIT = 30.0
EXPORT_CRASH = (
    "The app crashes every time I click the Export button on the settings page. "
    "I expected a CSV file to download but the whole window closes with an error."
)


async def _mark_duplicate(sb: Sandbox, flow: Any, text: str, author: Any, number: int) -> Any:
    item, review = await flow.report(text, author=author)
    opened = await flow.click(review, "duplicate", item.id)
    await flow.submit(opened, {"issue_number": str(number)}, review)
    await sb.wait_for_item_status(item.id, ItemStatus.DUPLICATE, within=WAIT)
    done = await sb.wait_for_item(lambda i: i.flow_done, item_id=item.id, within=WAIT)
    await flow.delivered(item.id)  # the comment is owed in the outbox
    return done


async def test_one_comment_per_new_reporter_with_a_tally(sb: Sandbox, flow: Any) -> None:
    existing = sb.github.add_issue(sb.repo, title="Crash when exporting", body="Known crash.")
    first = await _mark_duplicate(sb, flow, EXPORT_CRASH, sb.reporter, existing.number)
    assert len(existing.comments) == 1
    assert f"iterateswarm:item:{first.id}" in existing.comments[0]["body"]
    assert "people on Discord" not in existing.comments[0]["body"]

    again = await _mark_duplicate(
        sb,
        flow,
        "Still crashing on export, the window closes when I press it",
        sb.reporter,
        existing.number,
    )
    assert again.issue_number == existing.number
    assert len(existing.comments) == 1, "the same reporter is not news"
    assert [e.action for e in await sb.services.items.events(again.id)].count(
        "duplicate_comment"
    ) == 0

    other = await _mark_duplicate(
        sb,
        flow,
        "Exporting to CSV kills the whole app window for me",
        sb.outsider,
        existing.number,
    )
    assert len(existing.comments) == 2
    body = existing.comments[1]["body"]
    assert f"iterateswarm:item:{other.id}" in body and sb.outsider.name in body
    assert "2 people on Discord have reported this so far" in body


async def test_review_embed_counts_distinct_reporters_of_the_issue(sb: Sandbox, flow: Any) -> None:
    existing = sb.github.add_issue(
        sb.repo, title="App crashes when clicking Export on the settings page", body=EXPORT_CRASH
    )
    await sb.services.extras["issue_sync"]()
    await _mark_duplicate(
        sb,
        flow,
        "Exporting to CSV kills the whole app window for me",
        sb.outsider,
        existing.number,
    )
    await _mark_duplicate(
        sb,
        flow,
        "Export closes the app instead of saving the file",
        sb.outsider,
        existing.number,
    )
    item, review = await flow.report(EXPORT_CRASH, author=sb.reporter)
    assert (item.duplicates or {}).get("verdict") == "duplicate"
    fields = {f["name"]: f["value"] for f in review.embeds[0]["fields"]}
    assert fields["Reported by"] == f"👥 2 Discord users about #{existing.number}"

    maintainer_item, maintainer_review = await flow.report(
        EXPORT_CRASH + " Same here.", author=sb.maintainer
    )
    fields = {f["name"]: f["value"] for f in maintainer_review.embeds[0]["fields"]}
    assert fields["Reported by"] == f"👥 3 Discord users about #{existing.number}"
    assert maintainer_item.id != item.id
