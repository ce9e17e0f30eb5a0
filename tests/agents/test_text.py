"""Text hygiene: what the engines read and what GitHub shows."""

from __future__ import annotations

import pytest

from agents.text import has_substance, normalize, truncate


def test_normalize_resolves_discord_markup_and_invisible_characters() -> None:
    raw = "hey <@123456789012345678> <@&123456789012345678> in <#123456789012345678>\u200b "
    raw += "<:party:123456789012345678> @everyone \u202eevil\u202c"
    assert normalize(raw) == "hey @user @role in #channel :party: everyone evil"


def test_normalize_keeps_lines_and_unicode() -> None:
    text = "崩溃了 😱\n\n\n\nمرحبا   بالعالم\n1. open\n2. tap"
    assert normalize(text) == "崩溃了 😱\n\nمرحبا بالعالم\n1. open\n2. tap"


@pytest.mark.parametrize(
    "text", ["", "   ", "😀😀", "!!! ???", "<:party:123456789012345678>", "\u200b\u200b"]
)
def test_no_substance(text: str) -> None:
    assert not has_substance(text)


@pytest.mark.parametrize("text", ["crash", "崩溃", "pls add dark mode 🙏", "?? why"])
def test_substance(text: str) -> None:
    assert has_substance(text)


def test_truncate_marks_the_cut() -> None:
    assert truncate("abcdef", 10) == "abcdef"
    cut = truncate("abcdefghijkl", 5)
    assert len(cut) == 5 and cut.endswith("…")
