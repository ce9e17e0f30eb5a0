"""The answer to an Edit whose draft changed: who changed it, and the text to paste again."""

from __future__ import annotations

from cogs.approvals._draft import MESSAGE_LIMIT
from cogs.approvals._stale_edit import changed_by, fenced, stale_answer, typed_text


def test_what_was_typed_lists_the_lines_then_the_body() -> None:
    typed = typed_text({"title": " Export crash ", "labels": "bug, ui", "kind": "", "body": "B\nC"})
    assert typed == "Title: Export crash\nLabels: bug, ui\n\nBody:\nB\nC"
    assert typed_text({"title": "", "body": ""}) == ""


def test_the_changer_is_named_by_a_mention_or_as_yourself() -> None:
    assert changed_by({"actor": "maya (5)", "actor_id": 5}, viewer_id=6) == "<@5>"
    assert changed_by({"actor": "maya (5)", "actor_id": 5}, viewer_id=5) == "you, in another Edit"
    assert changed_by({"actor": "scheduler"}, viewer_id=6) == "scheduler"
    assert changed_by(None, viewer_id=6) is None


def test_a_fence_is_longer_than_any_backticks_inside() -> None:
    assert fenced("a ```b``` c") == "````\na ```b``` c\n````"
    assert fenced("plain") == "```\nplain\n```"


def test_a_short_text_comes_back_in_the_message_a_long_one_as_a_file() -> None:
    short, no_file = stale_answer(3, "<@5>", "Title: New")
    assert no_file is None and "changed by <@5>" in short and "Title: New" in short
    typed = "x" * MESSAGE_LIMIT
    long, attachment = stale_answer(3, None, typed)
    assert len(long) <= MESSAGE_LIMIT and "was changed since you opened Edit" in long
    assert attachment == ("edit-3.md", typed)
