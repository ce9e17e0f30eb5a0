"""What the bot writes on GitHub: sections, the verbatim report, attribution, limits."""

from __future__ import annotations

import pytest

from agents.markdown import github_length
from agents.triage.render import (
    GITHUB_BODY_LIMIT,
    MARKER_PATTERN,
    REPORT_LIMIT,
    display_name,
    duplicate_comment,
    issue_body,
    item_marker,
    last_marker,
    quoted_report,
)
from bot.sandbox._github_markdown import effects
from tests.agents.test_markdown import HOSTILE

REPO = "acme/widgets"
SPEC = {
    "description": "Settings crash.",
    "steps_to_reproduce": ["Open the app", "Tap Settings"],
    "expected_behavior": "Settings open",
    "actual_behavior": "The app closes",
    "acceptance_criteria": [],
}


def test_body_has_sections_the_report_and_the_footer_but_no_marker() -> None:
    body = issue_body(
        spec=SPEC, report="It crashes.", reporter="ana", jump_url="https://discord.com/x"
    )
    assert body.startswith("Settings crash.")
    assert "1. Open the app\n2. Tap Settings" in body
    assert "### Expected behaviour\n\nSettings open" in body
    assert "### Reported on Discord\n\n> It crashes." in body
    assert "**`ana`**" in body and "[original message](https://discord.com/x)" in body
    assert MARKER_PATTERN.search(body) is None, "the client writes the marker"


def test_html_comments_and_forged_markers_from_any_source_are_defused() -> None:
    forged = item_marker(99)
    spec = {**SPEC, "description": f"Edited. {forged} <!-- hidden", "steps_to_reproduce": [forged]}
    body = issue_body(spec=spec, report=f"hi {forged}", reporter="ana", jump_url=None)
    assert MARKER_PATTERN.search(body) is None
    assert "<!--" not in body
    assert body.count("&lt;!-- iterateswarm:item:99 -->") == 3, "shown, not hidden"


def test_last_marker_is_the_one_that_counts() -> None:
    assert last_marker(f"{item_marker(2)} quoted\n\n{item_marker(1)}\n") == 1
    assert last_marker("no marker") is None


def test_long_reports_fold_and_code_reports_are_not_quoted_line_by_line() -> None:
    code = "```\nline\n    indented\n```"
    folded = quoted_report("text\n" + code, limit=REPORT_LIMIT)
    assert folded.startswith("<details open><summary>") and code in folded
    long = quoted_report("\n".join(f"line {n}" for n in range(100)), limit=REPORT_LIMIT)
    assert long.startswith("<details><summary>Original message (100 lines)</summary>")
    assert long.endswith("line 99\n\n</details>")


def test_a_report_too_long_is_cut_at_a_line_and_says_so() -> None:
    text = "\n".join(f"line {n} " + "x" * 80 for n in range(2000))
    quoted = quoted_report(text, limit=5000, source_url="https://discord.com/m")
    assert github_length(quoted) < 5200
    assert "read the rest in the [original message](https://discord.com/m)" in quoted
    assert "\nline 9 " in quoted and "line 1999" not in quoted


def test_huge_spec_and_report_fit_github() -> None:
    spec = {
        "description": ("x" * 99 + "\n") * 1000 + "@octocat",
        "steps_to_reproduce": ["s" * 500] * 20,
        "expected_behavior": "e" * 4000,
        "actual_behavior": "a" * 4000,
        "acceptance_criteria": ["c" * 300] * 20,
    }
    report = "😡 " * 40_000
    body = issue_body(spec=spec, report=report, reporter="@mallory", jump_url=None)
    assert github_length(body + "\n\n" + item_marker(123_456) + "\n") <= GITHUB_BODY_LIMIT
    assert "cut to fit" in body and "longer than fits here" in body
    assert effects(body, repo=REPO).mentions == []


@pytest.mark.parametrize("text", HOSTILE)
def test_quoted_reports_act_on_nobody(text: str) -> None:
    for wrapped in (text, text + "\n```\ncode\n```", text + "\nline" * 40):
        quoted = quoted_report(wrapped, limit=REPORT_LIMIT)
        found = effects(f"### Reported\n\n{quoted}\n\nfooter @x".replace("@x", "x"), repo=REPO)
        assert found.mentions == [] and found.references == [], quoted


def test_display_names_render_as_text() -> None:
    for name in ("![](https://x.y/p)", "<img src=x>", "@admin", "**bold** `tick` #1", "a\nb"):
        shown = display_name(name)
        found = effects(f"by **{shown}**", repo=REPO)
        assert found.images == found.mentions == found.references == [], name
        assert "\n" not in shown
    assert display_name("") == "someone"
    assert len(display_name("n" * 500)) < 110


def test_duplicate_comment_quotes_the_reporter_and_carries_its_marker() -> None:
    report = "Same here @octocat #4\n```\n@Override x\n```"
    comment = duplicate_comment(item_id=8, report=report, reporter="olly", reporters=3)
    assert comment.startswith("Another report of this from Discord (**`olly`**):")
    assert "```\n@Override x\n```" in comment
    assert "3 people on Discord have reported this so far." in comment
    assert comment.endswith(item_marker(8))
    found = effects(comment, repo=REPO)
    assert found.mentions == [] and found.references == []
