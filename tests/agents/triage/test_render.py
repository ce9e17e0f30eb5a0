"""The GitHub issue body: sections, attribution, marker, limits, no pings."""

from __future__ import annotations

from agents.triage.render import GITHUB_BODY_LIMIT, MARKER_PATTERN, issue_body, item_marker


def test_body_has_sections_footer_and_marker() -> None:
    spec = {
        "description": "Settings crash.",
        "steps_to_reproduce": ["Open the app", "Tap Settings"],
        "expected_behavior": "Settings open",
        "actual_behavior": "The app closes",
        "acceptance_criteria": [],
    }
    body = issue_body(item_id=7, spec=spec, reporter="ana", jump_url="https://discord.com/x")
    assert "1. Open the app\n2. Tap Settings" in body
    assert "### Expected behaviour\nSettings open" in body
    assert "[original message](https://discord.com/x)" in body
    assert body.rstrip().endswith(item_marker(7))
    assert MARKER_PATTERN.search(body).group(1) == "7"  # type: ignore[union-attr]


def test_huge_body_fits_github_and_keeps_the_marker() -> None:
    spec = {"description": "x" * 100_000 + " @octocat"}
    body = issue_body(item_id=3, spec=spec, reporter="@mallory", jump_url=None)
    assert len(body) <= GITHUB_BODY_LIMIT
    assert item_marker(3) in body
    assert "**@mallory**" not in body
