"""Reporter additions and checkpoint-pruning marks on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from storage.checkpoint_marks import CheckpointMarks
from storage.db import Database
from storage.items import ItemRepository
from storage.models import FeedbackItemBase, ItemStatus
from storage.reporter_notes import MORE_LIMIT, SEPARATOR, ReporterNotes


def _base(n: int) -> FeedbackItemBase:
    return FeedbackItemBase(
        source_kind="channel", source_key=f"message:{n}", guild_id=7, raw_text=f"report {n}"
    )


async def _in(repo: ItemRepository, n: int, *path: ItemStatus) -> int:
    item, _ = await repo.create(item=_base(n), actor="t")
    assert item.id is not None
    for status in path:
        moved = await repo.transition(item_id=item.id, to=status, actor="t")
        assert moved is not None, status
    return item.id


async def test_additions_are_kept_while_undecided_and_bounded(database: Database) -> None:
    repo, notes = ItemRepository(database), ReporterNotes(database)
    waiting = await _in(repo, 1, ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW)
    texts = [f"addition {n}" for n in range(12)]
    await asyncio.gather(*(notes.append(item_id=waiting, text=t) for t in texts))
    item = await repo.get(waiting)
    assert item is not None and item.reporter_more is not None
    assert sorted(item.reporter_more.split(SEPARATOR)) == sorted(texts), "none overwritten"

    room = MORE_LIMIT - len(item.reporter_more) - len(SEPARATOR)
    assert await notes.append(item_id=waiting, text="x" * (room + 1)) is None
    filled = await notes.append(item_id=waiting, text="y" * room)
    assert filled is not None and len(filled.reporter_more or "") == MORE_LIMIT

    decided = await _in(repo, 2, ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW)
    await repo.transition(item_id=decided, to=ItemStatus.REJECTED, actor="maya")
    assert await notes.append(item_id=decided, text="too late") is None
    assert (await repo.get(decided)).reporter_more is None  # type: ignore[union-attr]


async def test_finished_items_are_pruned_once_and_again_after_a_new_triage(
    database: Database,
) -> None:
    repo, marks = ItemRepository(database), CheckpointMarks(database)
    dismissed = await _in(repo, 1, ItemStatus.TRIAGING)
    await repo.transition(
        item_id=dismissed, to=ItemStatus.NOT_ACTIONABLE, actor="graph", flow_done=True
    )
    waiting = await _in(repo, 2, ItemStatus.TRIAGING, ItemStatus.AWAITING_REVIEW)
    assert await marks.unpruned(limit=10) == {dismissed: 7}
    assert await marks.mark_pruned([dismissed, waiting]) == 1
    assert await marks.unpruned(limit=10) == {}

    await repo.transition(
        item_id=dismissed,
        to=ItemStatus.RECEIVED,
        actor="maya",
        flow_done=False,
        checkpoints_pruned_at=None,
    )
    assert await marks.still_finished([dismissed]) == []
    assert await marks.mark_pruned([dismissed]) == 0, "not while it is triaged again"
    await repo.transition(item_id=dismissed, to=ItemStatus.TRIAGING, actor="graph")
    await repo.transition(
        item_id=dismissed, to=ItemStatus.NOT_ACTIONABLE, actor="graph", flow_done=True
    )
    assert await marks.unpruned(limit=10) == {dismissed: 7}
