"""Template drafting: rewritten titles, steps, expected/actual behaviour and label choice."""

from __future__ import annotations

import pytest

from agents.engines.base import Classification
from agents.engines.spec_template import (
    choose_labels,
    draft_spec,
    draft_title,
    extract_behaviour,
    extract_steps,
)


@pytest.mark.parametrize(
    ("text", "kind", "title"),
    [
        ("pls add dark mode", "feature", "Add dark mode"),
        (
            "Hi team, it would be nice to have an option to export notes as PDF!",
            "feature",
            "Add an option to export notes as PDF",
        ),
        (
            "I wish there was a way to schedule messages",
            "feature",
            "Add a way to schedule messages",
        ),
        ("love it but it crashes on login", "bug", "Crashes on login"),
        (
            "app crashes when i open settings since the update",
            "bug",
            "App crashes when I open settings since the update",
        ),
        ("how do I change my username?", "question", "How do I change my username?"),
        (
            "would be cool if we could pin messages in threads",
            "feature",
            "Allow users to pin messages in threads",
        ),
        ("can we get a light theme", "feature", "Add a light theme"),
    ],
)
def test_titles_read_like_issue_titles(text: str, kind: str, title: str) -> None:
    assert draft_title(text, kind) == title  # type: ignore[arg-type]


def test_long_message_title_is_cut_at_a_clause_not_a_prefix() -> None:
    text = (
        "Great app! However the sync keeps failing every time I switch networks, and my notes "
        "from the laptop never show up on my phone, which is really annoying for work"
    )
    title = draft_title(text, "bug")
    assert len(title) <= 80
    assert title == "The sync keeps failing every time I switch networks"
    assert not text.startswith(title)


@pytest.mark.parametrize("text", ["", "!!!", "👍👍"])
def test_title_falls_back_when_nothing_usable(text: str) -> None:
    assert draft_title(text, "bug") == "Bug report from community feedback"


def test_title_never_exceeds_limit_without_spaces() -> None:
    assert len(draft_title("x" * 500, "bug")) <= 80


def test_steps_under_heading_preferred_over_other_lists() -> None:
    text = (
        "Things I tried:\n- reinstall\n- clear cache\n\nSteps to reproduce:\n"
        "1. Open the app\n2. Tap settings\n3. Press save\n\nNotes:\nnothing else"
    )
    assert extract_steps(text) == ["Open the app", "Tap settings", "Press save"]


def test_inline_numbered_steps() -> None:
    assert extract_steps("1) open app 2) tap profile 3) it crashes") == [
        "open app",
        "tap profile",
        "it crashes",
    ]


def test_no_steps_when_none_given() -> None:
    assert extract_steps("it just crashes") == []


def test_should_but_gives_expected_and_actual() -> None:
    expected, actual = extract_behaviour("it should show my avatar but it shows a blank square")
    assert expected == "It should show my avatar."
    assert actual == "Shows a blank square."
    assert extract_behaviour("it crashes") == (None, None)


@pytest.mark.parametrize(
    ("kind", "severity", "labels", "chosen"),
    [
        ("bug", "critical", ["bug", "critical", "enhancement"], ["bug", "critical"]),
        ("bug", "high", ["Type: Bug", "Severity: High"], ["Type: Bug", "Severity: High"]),
        ("feature", "low", ["enhancement", "feature"], ["enhancement"]),
        ("feature", "low", ["kind/feature", "priority/low"], ["kind/feature", "priority/low"]),
        ("question", "low", ["bug", "enhancement"], []),
        ("bug", "medium", [], []),
    ],
)
def test_labels_only_from_the_list(
    kind: str, severity: str, labels: list[str], chosen: list[str]
) -> None:
    assert choose_labels(kind, severity, labels) == chosen  # type: ignore[arg-type]


def test_draft_spec_fills_bug_fields_and_leaves_the_quote_to_the_issue_body() -> None:
    verdict = Classification(
        kind="bug", severity="high", confidence=0.9, actionable=True, reasoning="crash words"
    )
    text = "App crashes on save\n\n1. open a note\n2. press save\nExpected: saved\nActual: crash"
    spec = draft_spec(text, verdict, labels=["bug"])
    assert spec.title == "App crashes on save"
    assert "App crashes on save" not in spec.description, "the filed body quotes it verbatim"
    assert "Severity: high" in spec.description and "crash words" in spec.description
    assert spec.steps_to_reproduce == ["open a note", "press save"]
    assert (spec.expected_behavior, spec.actual_behavior) == ("saved", "crash")
    assert spec.acceptance_criteria == []
    assert spec.confidence == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("text", "title"),
    [("love this app!!", "Love this app"), ("thanks, great update", "Thanks, great update")],
)
def test_praise_keeps_its_own_words_in_the_title(text: str, title: str) -> None:
    verdict = Classification(
        kind="feature", severity="low", confidence=0.4, actionable=False, reasoning="praise"
    )
    assert draft_spec(text, verdict, labels=[]).title == title
    assert draft_title(text, "feature") != title
