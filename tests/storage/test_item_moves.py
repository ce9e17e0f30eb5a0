"""A move made on what its maker saw, on SQLite and PostgreSQL: checked on the locked row."""

from __future__ import annotations

import asyncio

import pytest

from agents.triage.fingerprint import filing_fingerprint
from storage.db import Database
from storage.decisions import DECISION_ACTION
from storage.item_moves import ChangedSinceSeenError, DraftChange, SeenFingerprint
from storage.items import ItemRepository
from storage.models import FeedbackItem, FeedbackItemBase, ItemStatus
from storage.reporter_notes import ReporterNotes

ROUNDS = 15
MORE = "It also fails on the web"


async def _in_review(repo: ItemRepository, key: str) -> FeedbackItem:
    item, _ = await repo.create(
        item=FeedbackItemBase(
            source_kind="channel",
            source_key=key,
            guild_id=10,
            channel_id=20,
            message_id=30,
            author_id=40,
            author_name="ana",
            raw_text="The export crashes",
        ),
        actor="discord",
    )
    assert item.id is not None
    await repo.transition(item_id=item.id, to=ItemStatus.TRIAGING, actor="graph")
    waiting = await repo.transition(
        item_id=item.id,
        to=ItemStatus.AWAITING_REVIEW,
        actor="graph",
        spec={"title": "Export crashes", "labels": ["bug"]},
        draft=DraftChange(),
    )
    assert waiting is not None
    return waiting


async def _approve(repo: ItemRepository, item: FeedbackItem) -> FeedbackItem | None:
    """Approve `item` as it was shown."""
    assert item.id is not None
    return await repo.transition(
        item_id=item.id,
        to=ItemStatus.APPROVED,
        actor="maintainer",
        expected=[ItemStatus.AWAITING_REVIEW],
        details={"action": "approve"},
        audit_action=DECISION_ACTION,
        seen=SeenFingerprint(filing_fingerprint(item), filing_fingerprint),
    )


async def test_an_approve_on_what_was_shown_moves(database: Database) -> None:
    repo = ItemRepository(database)
    item = await _in_review(repo, "message:1")
    moved = await _approve(repo, item)
    assert moved is not None and moved.status == ItemStatus.APPROVED


async def test_an_approve_after_the_reporter_added_more_moves_nothing(database: Database) -> None:
    repo = ItemRepository(database)
    shown = await _in_review(repo, "message:1")
    assert shown.id is not None
    await ReporterNotes(database).append(item_id=shown.id, text=MORE)
    with pytest.raises(ChangedSinceSeenError) as refused:
        await _approve(repo, shown)
    assert refused.value.item.reporter_more == MORE
    assert refused.value.current == filing_fingerprint(refused.value.item)
    after = await repo.get(shown.id)
    assert after is not None and after.status == ItemStatus.AWAITING_REVIEW
    assert [e for e in await repo.events(shown.id) if e.action == DECISION_ACTION] == []


async def test_an_approve_shown_before_an_accepted_edit_moves_nothing(database: Database) -> None:
    repo = ItemRepository(database)
    shown = await _in_review(repo, "message:1")
    assert shown.id is not None
    edited = await repo.transition(
        item_id=shown.id,
        to=ItemStatus.AWAITING_REVIEW,
        actor="maintainer",
        expected=[ItemStatus.AWAITING_REVIEW],
        details={"action": "edit", "title": "Export crashes on save"},
        audit_action=DECISION_ACTION,
        draft=DraftChange(from_revision=shown.draft_revision),
    )
    assert edited is not None and edited.spec == shown.spec, "accepted, not folded in yet"
    with pytest.raises(ChangedSinceSeenError):
        await _approve(repo, shown)
    assert (await _approve(repo, edited)) is not None


async def test_a_reply_racing_an_approve_is_refused_with_it_or_left_out(database: Database) -> None:
    repo, notes = ItemRepository(database), ReporterNotes(database)
    for n in range(ROUNDS):
        item = await _in_review(repo, f"message:{n}")
        assert item.id is not None
        moved, added = await asyncio.gather(
            _approve(repo, item), notes.append(item_id=item.id, text=MORE), return_exceptions=True
        )
        final = await repo.get(item.id)
        assert final is not None
        if isinstance(moved, ChangedSinceSeenError):
            assert added is not None, "refused because the reply was in"
            assert final.status == ItemStatus.AWAITING_REVIEW and final.reporter_more == MORE
        else:
            assert isinstance(moved, FeedbackItem) and moved.status == ItemStatus.APPROVED
            assert added is None, "a reply after the Approve is not part of what is filed"
            assert final.status == ItemStatus.APPROVED and final.reporter_more is None
