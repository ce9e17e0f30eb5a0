"""Markup that the cleaned text drops, and what is kept of it."""

from __future__ import annotations

from agents.engines.text_prep import clean_text, dropped_markup


def test_dropped_markup_returns_code_and_comments_that_clean_text_removes() -> None:
    text = (
        "Title\n\n<!-- Please describe\nthe feature -->Body\n```py\nraise KeyError\n```\n"
        "more\n```\nunclosed block"
    )
    code, comments = dropped_markup(text)
    assert "raise KeyError" in code and "unclosed block" in code
    assert "Please describe\nthe feature" in comments
    cleaned = clean_text(text)
    assert "KeyError" not in cleaned and "describe" not in cleaned


def test_a_fence_inside_a_comment_is_a_comment_only() -> None:
    code, comments = dropped_markup("<!-- ```example``` -->")
    assert code == ""
    assert "example" in comments


def test_plain_text_has_no_dropped_markup() -> None:
    assert dropped_markup("the app crashes on login") == ("", "")
