"""The Edit modal's submit: only what the maintainer changed, never an emptied body."""

from __future__ import annotations

from cogs.approvals._views import EditModal
from storage.models import FeedbackItem, ItemStatus


def _item(description: str) -> FeedbackItem:
    return FeedbackItem(
        id=7,
        source_kind="channel",
        source_key="message:7",
        author_name="ana",
        raw_text="The export crashes.",
        status=ItemStatus.AWAITING_REVIEW,
        spec={"title": "Export crashes", "description": description, "labels": ["bug"]},
    )


async def test_an_empty_body_from_a_modal_opened_on_a_long_draft_keeps_the_body() -> None:
    # Opened on a draft too long for the modal (its body input left empty); meanwhile another
    # maintainer's edit made the draft short, so the submit is read against the short draft.
    modal = EditModal(item=_item("A short body another maintainer wrote."))
    changed = modal.values({"title": "Export crashes", "body": "", "labels": "bug, ui"})
    assert changed == {"labels": ["bug", "ui"]}


async def test_a_new_body_is_taken() -> None:
    modal = EditModal(item=_item("Old body."))
    changed = modal.values({"title": "Export crashes", "body": "New body.", "labels": "bug"})
    assert changed == {"body": "New body."}
