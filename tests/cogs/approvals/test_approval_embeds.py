"""Review embed rendering: content, colours, Discord limits and escaping of user text."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from cogs.approvals._embeds import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    SEVERITY_COLOURS,
    TITLE_LIMIT,
    best_candidate_number,
    escape,
    reporter_message,
    review_embed,
    spec_text,
)
from storage.models import FeedbackItem, ItemStatus

ROLE_ID = 123456789012345678


def make_item(**overrides: Any) -> FeedbackItem:
    values: dict[str, Any] = {
        "id": 7,
        "source_kind": "channel",
        "source_key": "message:1",
        "guild_id": 1,
        "channel_id": 2,
        "message_id": 3,
        "author_id": 4,
        "author_name": "riley",
        "jump_url": "https://discord.com/channels/1/2/3",
        "raw_text": "The export button crashes the app",
        "text_hash": "x",
        "status": ItemStatus.AWAITING_REVIEW,
        "kind": "bug",
        "severity": "high",
        "confidence": 0.82,
        "actionable": True,
        "needs_review": False,
        "reasoning": "Describes a crash when exporting.",
        "engine": "offline",
        "spec": {
            "title": "Export button crashes the app",
            "description": "Clicking export closes the app.",
            "steps_to_reproduce": ["Open a project", "Click Export"],
            "expected_behavior": "A file is saved",
            "actual_behavior": "The app closes",
            "acceptance_criteria": [],
            "labels": ["bug"],
            "confidence": 0.8,
        },
        "duplicates": {"verdict": "new", "matches": []},
    }
    values.update(overrides)
    return FeedbackItem(**values)


def field(embed: discord.Embed, name: str) -> str | None:
    return next((f.value for f in embed.fields if f.name == name), None)


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= EMBED_TOTAL_LIMIT
    assert len(embed.title or "") <= TITLE_LIMIT
    assert len(embed.description or "") <= DESCRIPTION_LIMIT
    assert len(embed.fields) <= 25
    for embed_field in embed.fields:
        assert 0 < len(embed_field.value or "") <= FIELD_VALUE_LIMIT
        assert len(embed_field.name or "") <= 256
    assert len(embed.footer.text or "") <= 2048
    assert len(embed.author.name or "") <= 256


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_colour_follows_severity_while_waiting(severity: str) -> None:
    embed = review_embed(make_item(severity=severity))
    assert embed.colour is not None
    assert embed.colour.value == SEVERITY_COLOURS[severity]
    assert field(embed, "Severity") == severity


def test_shows_verdict_spec_reporter_and_jump_link() -> None:
    embed = review_embed(make_item())
    assert "Export button crashes the app" in (embed.title or "")
    description = embed.description or ""
    assert "Clicking export closes the app." in description
    assert "1. Open a project" in description and "2. Click Export" in description
    assert "A file is saved" in description and "The app closes" in description
    assert field(embed, "Kind") == "bug"
    assert field(embed, "Confidence") == "82%"
    assert field(embed, "Reasoning") == "Describes a crash when exporting."
    assert field(embed, "Labels") == "bug"
    reporter = field(embed, "Reporter") or ""
    assert "riley" in reporter
    assert "(https://discord.com/channels/1/2/3)" in reporter
    assert field(embed, "Outcome") is None
    assert field(embed, "Likely duplicate of") is None and field(embed, "May be related") is None


def test_low_confidence_is_flagged_for_review() -> None:
    embed = review_embed(make_item(confidence=0.31, needs_review=True))
    assert "needs review" in (field(embed, "Confidence") or "")
    assert "needs review" not in (field(review_embed(make_item()), "Confidence") or "")


def test_acceptance_criteria_for_features() -> None:
    spec = {
        "title": "Dark mode",
        "description": "Offer a dark theme.",
        "acceptance_criteria": ["A toggle in settings", "Remembered across restarts"],
        "labels": ["enhancement"],
    }
    embed = review_embed(make_item(kind="feature", spec=spec))
    assert "Acceptance criteria" in (embed.description or "")
    assert "- A toggle in settings" in (embed.description or "")


def test_duplicate_candidates_with_scores_links_and_closed_state() -> None:
    matches = [
        {
            "id": "issue:12",
            "score": 0.91,
            "title": "Crash on export",
            "url": "https://github.com/acme/widgets/issues/12",
            "number": 12,
            "state": "closed",
        },
        {"id": "feedback:3", "score": 0.84, "title": "", "url": None, "number": None},
    ]
    item = make_item(duplicates={"verdict": "duplicate", "matches": matches})
    value = field(review_embed(item), "Likely duplicate of") or ""
    first, second = value.splitlines()
    assert "[#12 Crash on export](https://github.com/acme/widgets/issues/12)" in first
    assert "0.91" in first and "(closed)" in first
    assert "feedback:3" in second and "0.84" in second and "closed" not in second
    assert best_candidate_number(item) == 12

    related = make_item(duplicates={"verdict": "possible_duplicate", "matches": matches[:1]})
    assert "#12" in (field(review_embed(related), "May be related") or "")
    assert best_candidate_number(make_item()) is None


def test_everything_fits_discord_limits_with_huge_unicode_input() -> None:
    chunk = "漢字のテスト שלום עולם مرحبا 🎉👩‍💻🏳️‍🌈 "
    raw = (chunk * 200)[:3900]
    spec = {
        "title": "標題" * 200,
        "description": chunk * 600,
        "steps_to_reproduce": [chunk * 20] * 20,
        "expected_behavior": chunk * 120,
        "actual_behavior": chunk * 120,
        "acceptance_criteria": [chunk * 20] * 20,
        "labels": [f"label-{i}-{chunk}" for i in range(10)],
    }
    matches = [
        {
            "id": f"issue:{n}",
            "score": 0.9,
            "title": chunk * 10,
            "url": "https://x.y/" + "a" * 250,
            "number": n,
        }
        for n in range(1, 6)
    ]
    item = make_item(
        raw_text=raw,
        spec=spec,
        reasoning=chunk * 100,
        author_name="👩‍💻" * 100,
        duplicates={"verdict": "duplicate", "matches": matches},
    )
    for status in (
        ItemStatus.AWAITING_REVIEW,
        ItemStatus.FILED,
        ItemStatus.REJECTED,
        ItemStatus.FAILED,
    ):
        decided = item.model_copy(
            update={
                "status": status,
                "decision": {"actor": "maya " * 60, "reason": chunk * 50},
                "issue_number": 99,
                "issue_url": "https://github.com/acme/widgets/issues/99",
            }
        )
        embed = review_embed(decided, failure_reason=chunk * 30)
        assert_within_limits(embed)
        discord.Embed.from_dict(embed.to_dict())


def test_user_text_cannot_format_link_or_mention() -> None:
    hostile = f"**bold** @everyone <@&{ROLE_ID}> [click](https://evil.example) # Heading"
    item = make_item(
        raw_text=hostile,
        reasoning=hostile,
        spec={"title": hostile, "description": hostile, "labels": []},
    )
    embed = review_embed(item)
    for text in (
        embed.description or "",
        field(embed, "Original feedback") or "",
        field(embed, "Reasoning") or "",
    ):
        assert "**bold**" not in text
        assert "@everyone" not in text
        assert f"<@&{ROLE_ID}>" not in text
        assert "[click](" not in text
        assert "\n# Heading" not in f"\n{text}"


def test_escape_keeps_the_words() -> None:
    escaped = escape("a_b [x] @here")
    assert "a" in escaped and "b" in escaped and "x" in escaped and "here" in escaped
    assert "[x]" not in escaped


def test_outcomes_name_the_decider_and_issue() -> None:
    filed = make_item(
        status=ItemStatus.FILED,
        decision={"action": "approve", "actor": "maya (42)"},
        issue_number=5,
        issue_url="https://github.com/acme/widgets/issues/5",
    )
    embed = review_embed(filed)
    outcome = field(embed, "Outcome") or ""
    assert "Filed" in outcome and "[#5](https://github.com/acme/widgets/issues/5)" in outcome
    assert "maya (42)" in outcome
    assert embed.url == "https://github.com/acme/widgets/issues/5"

    rejected = make_item(
        status=ItemStatus.REJECTED,
        decision={"action": "reject", "actor": "maya", "reason": "out of scope"},
    )
    assert "out of scope" in (field(review_embed(rejected), "Outcome") or "")

    failed = make_item(status=ItemStatus.FAILED)
    outcome = field(review_embed(failed, failure_reason="GitHubUnavailable: 502"), "Outcome") or ""
    assert "502" in outcome and "Retry" in outcome

    duplicate = make_item(
        status=ItemStatus.DUPLICATE,
        decision={"action": "duplicate", "actor": "maya"},
        issue_number=12,
        issue_url="https://github.com/acme/widgets/issues/12",
        issue_state="closed",
    )
    outcome = field(review_embed(duplicate), "Outcome") or ""
    assert "#12" in outcome and "closed" in outcome


def test_reporter_messages() -> None:
    filed = make_item(status=ItemStatus.FILED, issue_url="https://github.com/acme/widgets/issues/5")
    assert "https://github.com/acme/widgets/issues/5" in (reporter_message(filed, "filed") or "")
    rejected = make_item(
        status=ItemStatus.REJECTED, decision={"actor": "maya", "reason": "ping @everyone"}
    )
    text = reporter_message(rejected, "rejected") or ""
    assert "ping" in text and "@everyone" not in text
    duplicate = make_item(issue_number=12, issue_url="https://github.com/acme/widgets/issues/12")
    assert "issues/12" in (reporter_message(duplicate, "duplicate") or "")
    assert reporter_message(make_item(), "expired") is None


def test_spec_text_prefills_every_section() -> None:
    text = spec_text(make_item().spec)
    assert text.startswith("Clicking export closes the app.")
    assert "1. Open a project" in text
    assert "Expected: A file is saved" in text and "Actual: The app closes" in text
    assert spec_text(None) == ""


def test_duplicate_field_says_why() -> None:
    match = {"id": "issue:12", "score": 0.61, "title": "Crash on export", "number": 12}
    reason = "score 0.61, but the text shares none of its title's words <@123456789012345678> **x**"
    item = make_item(
        duplicates={"verdict": "possible_duplicate", "matches": [match], "reason": reason}
    )
    value = field(review_embed(item), "May be related") or ""
    assert value.splitlines()[0].startswith("• ")
    why = value.splitlines()[-1]
    assert why.startswith("Why: ") and "none of its title" in why
    assert "<@123456789012345678>" not in why and "**x**" not in why
    older = make_item(duplicates={"verdict": "duplicate", "matches": [match]})
    assert "Why" not in (field(review_embed(older), "Likely duplicate of") or "")
