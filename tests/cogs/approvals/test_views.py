"""Review buttons: an Approve's and a Retry's id carry the fingerprint of what they would file."""

from __future__ import annotations

from agents.triage.fingerprint import changed_since_shown, filing_fingerprint
from cogs.approvals._views import ButtonId, parse_custom_id, review_view
from storage.models import FeedbackItem, ItemStatus


def _item(status: ItemStatus = ItemStatus.AWAITING_REVIEW) -> FeedbackItem:
    return FeedbackItem(
        id=2**31 - 1,
        source_kind="channel",
        source_key="message:7",
        author_name="ana",
        raw_text="The export crashes.",
        text_hash="",
        status=status,
        spec={"title": "Export crashes", "description": "It closes.", "labels": ["bug"]},
    )


def _ids(item: FeedbackItem, fingerprint: str) -> list[str]:
    view = review_view(item, full_draft=True, fingerprint=fingerprint)
    assert view is not None
    return [str(getattr(child, "custom_id", "")) for child in view.children]


def test_only_the_buttons_that_file_carry_the_fingerprint() -> None:
    item = _item()
    shown = filing_fingerprint(item)
    ids = _ids(item, shown)
    assert ids == [
        f"approvals:approve:{item.id}:{shown}",
        f"approvals:reject:{item.id}",
        f"approvals:edit:{item.id}",
        f"approvals:duplicate:{item.id}",
        f"approvals:full:{item.id}",
    ]
    assert max(len(i) for i in ids) <= 100
    assert _ids(_item(ItemStatus.FAILED), shown)[0] == f"approvals:retry:{item.id}:{shown}"
    assert parse_custom_id(ids[0]) == ButtonId("approve", item.id, shown)


def test_ids_from_before_fingerprints_still_parse() -> None:
    assert parse_custom_id("approvals:approve:7") == ButtonId("approve", 7, None)
    assert parse_custom_id("approvals:approve:7:xyz").action is None


def test_the_fingerprint_follows_what_is_filed_and_says_who_changed_it() -> None:
    item = _item()
    shown = filing_fingerprint(item)
    assert filing_fingerprint(item.model_copy()) == shown
    assert filing_fingerprint(item, edit_pending=True) != shown
    redrafted = item.model_copy(update={"draft_revision": item.draft_revision + 1})
    assert changed_since_shown("approve", shown, filing_fingerprint(redrafted)) == (
        "The draft changed since this was shown; the review is updated, check it and Approve again."
    )
    added = item.model_copy(update={"reporter_more": "Also on my tablet"})
    assert changed_since_shown("retry", shown, filing_fingerprint(added)) == (
        "The reporter added details since this was shown; "
        "the review is updated, check it and Retry again."
    )
