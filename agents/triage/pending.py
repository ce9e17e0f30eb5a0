"""Which decision a paused graph takes next: the oldest one logged after the last it took."""

from __future__ import annotations

from typing import Any

from storage.decisions import decisions_after
from storage.items import ItemRepository
from storage.models import FeedbackItem, ItemStatus

S = ItemStatus

#: Statuses that mean "a decision was taken but the graph may not have acted on it yet".
_DECIDED = frozenset({S.APPROVED, S.FILING, S.REJECTED, S.DUPLICATE, S.EXPIRED})


def _pause_of(snapshot: Any) -> str | None:
    """The node the graph is paused in (`await_decision`, `await_details`), or None."""
    for task in snapshot.tasks:
        if task.interrupts:
            return str(task.name)
    return None


#: The pauses a reporter's answers resume; every other decision resumes the review.
_REPORTER_PAUSES = {"details": "await_details", "confirm": "await_same_issue"}


def _fits(action: str | None, pause: str | None) -> bool:
    """A reporter's answer resumes the wait for it; anything else, the review."""
    return pause == _REPORTER_PAUSES.get(str(action), "await_decision")


async def pending_decision(
    items: ItemRepository, item: FeedbackItem, snapshot: Any
) -> dict[str, Any] | None:
    """The resume payload (the decision and its `seq`) for the paused graph, or None.

    Decisions are taken one at a time in the order they were accepted; a decision for a
    pause the graph has not reached yet waits for it.
    """
    assert item.id is not None
    taken = int((snapshot.values or {}).get("decision_seq") or 0)
    pause = _pause_of(snapshot)
    logged = await decisions_after(items.db, item.id, taken)
    if logged:
        first = logged[0]
        if not _fits(first.decision.get("action"), pause):
            return None
        return {**first.decision, "seq": first.seq}
    if taken == 0 and _legacy_pending(item, pause):
        return item.decision
    if item.status == S.APPROVED and pause == "await_decision":
        # Approved, yet nothing left to take: an earlier version erased the Approve while
        # applying an Edit. The status says a maintainer approved; file it.
        actor = str((item.decision or {}).get("actor") or "reconcile")
        return {"action": "approve", "actor": actor}
    return None


def _legacy_pending(item: FeedbackItem, pause: str | None) -> bool:
    """A decision stored only on the item (before the log existed), not yet taken."""
    decision = item.decision or {}
    action = decision.get("action")
    if not action or not _fits(action, pause):
        return False
    if action in _REPORTER_PAUSES:
        return item.status == S.TRIAGING
    if action == "edit":
        return item.status == S.AWAITING_REVIEW
    return ItemStatus(item.status) in _DECIDED
