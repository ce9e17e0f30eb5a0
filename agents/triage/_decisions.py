"""The runner's decisions: accept or refuse a maintainer's or reporter's decision on an item."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.triage.filing_retry import AUTO_RETRY_ACTOR
from agents.triage.fingerprint import changed_since_shown, filing_fingerprint
from agents.triage.state import Decision
from storage.decisions import DECISION_ACTION, last_edit_seq
from storage.item_moves import ChangedSinceSeenError, DraftChange, SeenFingerprint
from storage.models import FeedbackItem, ItemStatus

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig
    from langgraph.graph.state import CompiledStateGraph

    from agents.triage.context import TriageContext
    from agents.triage.runner import PolicyFor
    from storage.items import ItemRepository

log = logging.getLogger(__name__)

S = ItemStatus

#: Where a decision moves an item, and from which statuses it may.
_DECISION_MOVES: dict[str, tuple[ItemStatus, frozenset[ItemStatus]]] = {
    "approve": (S.APPROVED, frozenset({S.AWAITING_REVIEW})),
    "retry": (S.APPROVED, frozenset({S.FAILED})),
    "reject": (S.REJECTED, frozenset({S.AWAITING_REVIEW, S.FAILED})),
    "duplicate": (S.DUPLICATE, frozenset({S.AWAITING_REVIEW})),
    "expire": (S.EXPIRED, frozenset({S.AWAITING_REVIEW, S.FAILED})),
    # An edit keeps the status it finds (see `decide`).
    "edit": (S.AWAITING_REVIEW, frozenset({S.AWAITING_REVIEW, S.FAILED})),
    "details": (S.TRIAGING, frozenset({S.AWAITING_DETAILS})),
    "confirm": (S.TRIAGING, frozenset({S.AWAITING_REPORTER})),
}


@dataclass(frozen=True)
class DecisionResult:
    """What to tell the maintainer who decided."""

    accepted: bool
    message: str
    item: FeedbackItem | None = None
    stale_draft: bool = False
    """An Edit refused because the draft changed since the modal it came from was opened."""
    changed: bool = False
    """An Approve or Retry refused because what it would file changed since it was shown."""


class DecisionsMixin:
    """`TriageRunner`'s half that takes decisions: checks them, logs them, lets the graph act."""

    if TYPE_CHECKING:
        graph: CompiledStateGraph  # type: ignore[type-arg]
        context: TriageContext
        items: ItemRepository
        policy_for: PolicyFor

        @staticmethod
        def _config(item_id: int) -> RunnableConfig: ...

        async def run(self, item_id: int) -> None: ...

        def submit(self, item_id: int, *, delay: float = 0.0) -> None: ...

    async def fingerprint(self, item: FeedbackItem) -> str:
        """The fingerprint of what filing `item` would write, for its review message now."""
        assert item.id is not None
        edit = await last_edit_seq(self.items.db, item.id)
        pending = False
        if edit:
            snapshot = await self.graph.aget_state(self._config(item.id))
            taken = (snapshot.values or {}).get("decision_seq")
            pending = taken is not None and int(taken) < edit  # not folded into the draft yet
        return filing_fingerprint(item, edit_pending=pending)

    async def decide(
        self, item_id: int, decision: Decision, *, wait: bool = False, shown: str | None = None
    ) -> DecisionResult:
        """Apply a decision if the item is still open to it; then let the graph act.

        `shown` is the fingerprint of the draft the decider saw: an Approve or Retry is
        refused (`changed`) when filing would no longer write that.
        """
        target, sources = _DECISION_MOVES[decision.action]
        item = await self.items.get(item_id)
        if item is None:
            return DecisionResult(False, "This item no longer exists.")
        if decision.action == "duplicate" and decision.issue_number is None:
            return DecisionResult(False, "Give the number of the issue this duplicates.")
        extra: dict[str, Any] = {}
        if decision.action == "duplicate":
            extra = await self._duplicate_target(item, decision)
            if "error" in extra:
                return DecisionResult(False, extra["error"], item)
        draft: DraftChange | None = None
        if decision.action == "edit":
            draft = DraftChange(from_revision=decision.draft_revision)
            if item.status in sources:
                target = ItemStatus(item.status)
                sources = frozenset({target})
        files = decision.action in ("approve", "retry")
        if files:
            automatic = decision.actor == AUTO_RETRY_ACTOR
            extra["filing_retry_at"] = None
            extra["filing_auto_retries"] = item.filing_auto_retries + 1 if automatic else 0
        seen = SeenFingerprint(shown, filing_fingerprint) if shown and files else None
        try:
            # The audit row logs the decision: the graph takes logged decisions in order.
            moved = await self.items.transition(
                item_id=item_id,
                to=target,
                actor=decision.actor,
                expected=sources,
                details=decision.model_dump(exclude_none=True),
                audit_action=DECISION_ACTION,
                decision=decision.model_dump(),
                draft=draft,
                seen=seen,
                **extra,
            )
        except ChangedSinceSeenError as changed:
            message = changed_since_shown(decision.action, changed.shown, changed.current)
            return DecisionResult(False, message, changed.item, changed=True)
        if moved is None:
            current = await self.items.get(item_id)
            if _stale(current, decision, draft):
                return DecisionResult(False, STALE_DRAFT, current, stale_draft=True)
            status = current.status if current else "gone"
            return DecisionResult(False, f"Nothing to do: this item is already {status}.", current)
        if wait:
            await self.run(item_id)
        else:
            self.submit(item_id)
        return DecisionResult(True, _ACK[decision.action], moved)

    async def _duplicate_target(self, item: FeedbackItem, decision: Decision) -> dict[str, Any]:
        repo = item.repo or (await self.policy_for(item)).repo
        number = decision.issue_number
        if self.context.filer is None or repo is None or number is None:
            return {"issue_number": number}
        try:
            issue = await self.context.filer.get_issue(repo=repo, number=number)
        except Exception:
            log.warning("could not check issue #%s; linking it unchecked", number)
            return {"issue_number": number, "repo": repo}
        if issue is None:
            return {"error": f"Issue #{number} does not exist in {repo}."}
        return {
            "issue_number": number,
            "issue_url": issue.url,
            "issue_state": issue.state,
            "repo": repo,
        }


def _stale(item: FeedbackItem | None, decision: Decision, draft: DraftChange | None) -> bool:
    """The item is still open to the decision, but its draft is not the one it was made on."""
    if item is None or draft is None or draft.holds(item.draft_revision):
        return False
    return item.status in _DECISION_MOVES[decision.action][1]


STALE_DRAFT = "The draft changed since this Edit was opened; nothing was saved."

_ACK = {
    "approve": "Approved: filing the issue on GitHub.",
    "retry": "Retrying: filing the issue on GitHub.",
    "reject": "Rejected.",
    "duplicate": "Marked as a duplicate.",
    "expire": "Expired.",
    "edit": "Edited: the review message shows the new draft.",
    "details": "Thanks! Your answer was added to the report.",
    "confirm": "Thanks for your answer!",
}
