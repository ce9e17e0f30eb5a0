"""Which match is put to the reporter, and how the answer routes the graph."""

from __future__ import annotations

from typing import Any

from agents.triage.same_issue import (
    ANSWER_KEY,
    after_duplicates,
    after_same_issue,
    answer_note,
    offered_issue,
)
from agents.triage.state import TriageState


def _result(verdict: str = "duplicate", state: str = "open", kind: str = "issue") -> dict[str, Any]:
    match = {"id": f"{kind}:7", "score": 0.93, "title": "Export crashes", "state": state}
    if kind == "issue":
        match["number"] = 7
    return {"verdict": verdict, "matches": [match], "reason": "title words"}


def _state(duplicates: dict[str, Any], mode: str, answer: str | None = None) -> TriageState:
    return TriageState(
        item_id=1,
        text="x",
        policy={"duplicate_confirm": mode},
        duplicates=duplicates,
        same_issue_answer=answer,
    )


def test_only_an_open_issue_of_a_duplicate_verdict_is_offered() -> None:
    assert offered_issue(_result()) is not None
    assert offered_issue(_result(state="closed")) is None
    assert offered_issue(_result(verdict="possible_duplicate")) is None
    assert offered_issue(_result(kind="feedback")) is None
    assert offered_issue(None) is None


def test_routes_follow_the_mode_and_the_answer() -> None:
    assert after_duplicates(_state(_result(), "auto_link")) == "ask_same_issue"
    assert after_duplicates(_state(_result(), "off")) == "draft_spec"
    assert after_duplicates(_state(_result(), "review", answer="different")) == "draft_spec"
    assert after_same_issue(_state(_result(), "auto_link", answer="same")) == "link_same_issue"
    assert after_same_issue(_state(_result(), "review", answer="same")) == "draft_spec"
    assert after_same_issue(_state(_result(), "auto_link", answer="")) == "draft_spec"


def test_the_review_note_names_the_issue() -> None:
    assert answer_note({**_result(), ANSWER_KEY: "same"}) == "🙋 Reporter confirms it is #7."
    different = answer_note({**_result(), ANSWER_KEY: "different"})
    assert different == "🙋 Reporter says it is different from #7."
    assert answer_note(_result()) is None
