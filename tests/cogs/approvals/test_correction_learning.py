"""Maintainer corrections become examples, and the next similar report follows them."""

from __future__ import annotations

from typing import Any

from bot.sandbox.stack import Sandbox
from cogs.approvals._embeds import spec_text
from storage.examples import ExampleRepository
from storage.models import ItemStatus

WAIT = 30.0
SIMILAR = (
    "The app crashes every time I click the Export button on the settings page. "
    "I expected the CSV file to download but the window closes with an error."
)


async def test_edited_kind_and_severity_steer_the_next_similar_report(
    sb: Sandbox, flow: Any
) -> None:
    item, review = await flow.report()
    corrected = "question" if item.kind != "question" else "feature"
    spec = item.spec or {}
    opened = await flow.click(review, "edit", item.id)
    submitted = await flow.submit(
        opened,
        {
            "title": spec["title"],
            "body": spec_text(spec),
            "labels": ", ".join(spec.get("labels") or []),
            "kind": corrected.upper(),
            "severity": "critical",
        },
        review,
    )
    assert "Edited" in await flow.answer(submitted)
    edited = await sb.wait_for_item(
        lambda i: i.kind == corrected and i.severity == "critical", item_id=item.id, within=WAIT
    )
    assert edited.spec == spec, "an edit of kind and severity alone keeps the draft"
    shown = await sb.discord.wait_for_message(
        sb.discord.review_channel_id,
        lambda m: (
            m.id == review.id
            and {f["name"]: f["value"] for f in m.embeds[0]["fields"]}.get("Kind") == corrected
        ),
        timeout=WAIT,
    )
    assert {f["name"]: f["value"] for f in shown.embeds[0]["fields"]}["Severity"] == "critical"
    examples = ExampleRepository(sb.services.db)
    (example,) = await examples.for_item(item.id)
    assert (example.kind, example.severity, example.rejected) == (corrected, "critical", False)
    assert example.guild_id == sb.discord.guild_id and example.title == spec["title"]

    second, second_review = await flow.report(SIMILAR, author=sb.outsider)
    assert (second.kind, second.severity) == (corrected, "critical")
    assert f"Like item #{item.id} corrected by a maintainer" in (second.reasoning or "")

    opened = await flow.click(second_review, "reject", second.id)
    await flow.submit(opened, {"reason": "Not a bug."}, second_review)
    await sb.wait_for_item_status(second.id, ItemStatus.REJECTED, within=WAIT)
    await sb.wait_for_item(lambda i: i.flow_done, item_id=second.id, within=WAIT)
    (rejection,) = await examples.for_item(second.id)
    assert rejection.rejected and rejection.kind == corrected


async def test_an_unknown_kind_in_the_edit_is_refused(sb: Sandbox, flow: Any) -> None:
    item, review = await flow.report()
    spec = item.spec or {}
    opened = await flow.click(review, "edit", item.id)
    submitted = await flow.submit(
        opened,
        {
            "title": spec["title"],
            "body": spec_text(spec),
            "labels": ", ".join(spec.get("labels") or []),
            "kind": "complaint",
        },
        review,
    )
    assert "does not fit" in await flow.answer(submitted)
    assert await ExampleRepository(sb.services.db).for_item(item.id) == []
