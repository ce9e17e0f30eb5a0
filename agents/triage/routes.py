"""Routing between nodes: pure functions of the state."""

from __future__ import annotations

from typing import Literal

from agents.triage.state import TriageState


def after_classify(state: TriageState) -> Literal["find_duplicates", "ask_details", "dismiss"]:
    """Praise and chatter are stored and acknowledged; thin bug reports get questions first."""
    if not state.actionable:
        return "dismiss"
    if state.details_questions and not state.details_asked:
        return "ask_details"
    return "find_duplicates"


def after_decision(
    state: TriageState,
) -> Literal["file_issue", "apply_edit", "mark_duplicate", "close_item"]:
    """Act on the maintainer's decision."""
    action = (state.decision or {}).get("action")
    if action in ("approve", "retry"):
        return "file_issue"
    if action == "edit":
        return "apply_edit"
    if action == "duplicate":
        return "mark_duplicate"
    return "close_item"


def after_filing(state: TriageState) -> Literal["await_decision", "__end__"]:
    """A failed filing waits for a maintainer's retry; anything else is done."""
    return "await_decision" if state.outcome == "failed" else "__end__"
