"""Which bug reports lack details, and what the reporter is asked."""

from __future__ import annotations

from agents.triage.details import MAX_QUESTIONS, missing_parts, questions_for

COMPLETE = """Crash when exporting to PDF on v2.3.1 (Windows 11)
Steps:
1. Open a document
2. Click Export > PDF
Expected: a PDF file. Actual: the app closes with error "0xc0000005".
"""


def test_thin_report_gets_at_most_three_specific_questions() -> None:
    questions = questions_for("app crashes since the update")
    assert 1 <= len(questions) <= MAX_QUESTIONS
    assert any("step by step" in q for q in questions)
    assert any("version" in q for q in questions)


def test_complete_report_is_not_questioned() -> None:
    assert missing_parts(COMPLETE) == []
    assert questions_for(COMPLETE) == []


def test_one_missing_part_is_not_worth_a_thread() -> None:
    text = "When I click save on android 14 it should save but instead nothing happens"
    assert [p.name for p in missing_parts(text)] == ["error_output"]
    assert questions_for(text) == []
