"""Asking the reporter whether a strongly matching open issue is the same problem.

After `find_duplicates` gives the `duplicate` verdict with an open issue as the best match,
`ask_same_issue` puts the item in `awaiting_reporter` and tells the notifier, which asks the
reporter (`cogs/dupconfirm`); `await_same_issue` pauses until the reporter answers or the
scheduler gives up (`confirm` decisions). A "same" answer with `DUPLICATE_CONFIRM=auto_link`
links the item to the issue without review (`link_same_issue` → `mark_duplicate`); any other
outcome drafts the issue for review as usual, the answer shown on the review.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agents.dedup.types import DuplicateMatch, DuplicateResult
from agents.triage.context import TriageContext
from agents.triage.nodes import _taken, audited, leave_triage
from agents.triage.state import Decision, Policy, TriageState
from storage.models import ItemStatus

log = logging.getLogger(__name__)

SAME, DIFFERENT = "same", "different"
#: Key of the reporter's answer inside the item's stored duplicate result.
ANSWER_KEY = "reporter_answer"


def offered_issue(duplicates: dict[str, Any] | None) -> DuplicateMatch | None:
    """The open issue to put to the reporter: the best match of a `duplicate` verdict."""
    if not duplicates:
        return None
    result = DuplicateResult.model_validate(duplicates)
    if result.verdict != "duplicate" or not result.matches:
        return None
    best = result.matches[0]
    if not best.id.startswith("issue:") or best.number is None or best.state != "open":
        return None
    return best


def answer_note(duplicates: dict[str, Any] | None) -> str | None:
    """What the review says about the reporter's answer, if they gave one."""
    answer = (duplicates or {}).get(ANSWER_KEY)
    issue = offered_issue(duplicates)
    number = f"#{issue.number}" if issue is not None else "the matching issue"
    if answer == SAME:
        return f"🙋 Reporter confirms it is {number}."
    if answer == DIFFERENT:
        return f"🙋 Reporter says it is different from {number}."
    return None


def after_duplicates(state: TriageState) -> Literal["ask_same_issue", "draft_spec"]:
    """Ask the reporter first when configured and an open issue matches strongly."""
    policy = Policy.model_validate(state.policy)
    if policy.duplicate_confirm == "off" or state.same_issue_answer is not None:
        return "draft_spec"
    return "ask_same_issue" if offered_issue(state.duplicates) is not None else "draft_spec"


def after_asking(state: TriageState) -> Literal["await_same_issue", "draft_spec"]:
    """Wait for the answer, unless the issue turned out to be closed (nothing was asked)."""
    return "await_same_issue" if state.same_issue_answer is None else "draft_spec"


def after_same_issue(state: TriageState) -> Literal["link_same_issue", "draft_spec"]:
    """A confirmed match is linked at once with `auto_link`; anything else goes to review."""
    policy = Policy.model_validate(state.policy)
    if state.same_issue_answer == SAME and policy.duplicate_confirm == "auto_link":
        return "link_same_issue"
    return "draft_spec"


@audited
async def ask_same_issue(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Check the issue is still open, then wait for the reporter (`awaiting_reporter`)."""
    ctx = runtime.context
    issue = offered_issue(state.duplicates)
    policy = Policy.model_validate(state.policy)
    assert issue is not None and issue.number is not None
    if ctx.filer is not None and policy.repo:
        try:
            live = await ctx.filer.get_issue(repo=policy.repo, number=issue.number)
        except Exception:
            log.warning("could not check issue #%s; asking about it as indexed", issue.number)
        else:
            if live is None or live.state != "open":
                log.info("issue #%s is no longer open; not offering it", issue.number)
                return {"same_issue_answer": ""}
    await leave_triage(
        ctx,
        state,
        ItemStatus.AWAITING_REPORTER,
        details={"issue": issue.number, "title": issue.title, "url": issue.url},
        duplicates=state.duplicates,
        repo=policy.repo,
    )
    await ctx.notifier.item_changed(state.item_id, "same_issue_asked")
    return {}


async def await_same_issue(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Pause until the reporter answers (or the wait times out); keep the answer."""
    payload = interrupt({"item_id": state.item_id, "waiting_for": "same_issue"})
    answer = Decision.model_validate(payload).reason
    answer = answer if answer in (SAME, DIFFERENT) else ""
    duplicates = dict(state.duplicates or {})
    if answer:
        duplicates[ANSWER_KEY] = answer
    return {"same_issue_answer": answer, "duplicates": duplicates, **_taken(state, payload)}


@audited
async def link_same_issue(state: TriageState, runtime: Runtime[TriageContext]) -> dict[str, Any]:
    """Mark the item a duplicate of the issue the reporter confirmed, as a maintainer would."""
    issue = offered_issue(state.duplicates)
    assert issue is not None and issue.number is not None
    item = await runtime.context.items.get(state.item_id)
    reporter = f"{item.author_name} ({item.author_id})" if item is not None else "the reporter"
    decision = Decision(
        action="duplicate",
        actor=reporter[:200],
        actor_id=item.author_id if item is not None else None,
        reason="The reporter confirmed it is the same problem.",
        issue_number=issue.number,
    )
    await leave_triage(
        runtime.context,
        state,
        ItemStatus.DUPLICATE,
        details={"issue": issue.number, "confirmed_by": "reporter"},
        duplicates=state.duplicates,
        repo=Policy.model_validate(state.policy).repo,
        issue_number=issue.number,
        issue_url=issue.url,
        issue_state="open",
        decision=decision.model_dump(),
    )
    return {"decision": decision.model_dump()}
