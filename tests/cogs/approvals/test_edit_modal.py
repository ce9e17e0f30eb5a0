"""The Edit modal's submit: only what the maintainer changed, never an emptied body."""

from __future__ import annotations

from cogs.approvals._views import (
    EditModal,
    ModalTarget,
    parse_custom_id,
    parse_modal_custom_id,
)
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


async def test_an_edit_modal_names_the_draft_revision_it_was_opened_on() -> None:
    item = _item("Body.")
    item.id, item.draft_revision = 2**31 - 1, 999_999_999
    modal = EditModal(item=item)
    assert modal.custom_id == "approvals:edit:2147483647:r999999999"
    assert len(modal.custom_id) <= 100
    assert parse_modal_custom_id(modal.custom_id) == ModalTarget("edit", 2**31 - 1, 999_999_999)


def test_modal_ids_from_before_revisions_and_foreign_ids() -> None:
    assert parse_modal_custom_id("approvals:edit:7") == ModalTarget("edit", 7, None)
    assert parse_modal_custom_id("approvals:reject:7") == ModalTarget("reject", 7, None)
    assert parse_modal_custom_id("approvals:approve:7") is None
    assert parse_modal_custom_id("approvals:edit:7:rx") is None
    assert parse_custom_id("approvals:edit:7:r1").action is None, "never a button's id"
