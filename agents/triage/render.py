"""The GitHub issue body for an approved item: spec, attribution footer and hidden marker."""

from __future__ import annotations

import re
from typing import Any

from agents.text import neutralise_github_mentions, truncate

GITHUB_BODY_LIMIT = 65_536
_FOOTER_RESERVE = 1_000


MARKER_PATTERN = re.compile(r"<!-- iterateswarm:item:(\d+) -->")


def item_marker(item_id: int) -> str:
    """Hidden marker that ties an issue to its feedback item (finds it after a crash)."""
    return f"<!-- iterateswarm:item:{item_id} -->"


def _section(title: str, lines: list[str], *, numbered: bool = False) -> str:
    if not lines:
        return ""
    body = "\n".join(f"{i}. {line}" if numbered else f"- {line}" for i, line in enumerate(lines, 1))
    return f"### {title}\n{body}\n"


def issue_body(*, item_id: int, spec: dict[str, Any], reporter: str, jump_url: str | None) -> str:
    """Markdown body within GitHub's limit; nothing in it pings anyone."""
    parts = [spec.get("description", "").strip() + "\n"]
    parts.append(
        _section("Steps to reproduce", spec.get("steps_to_reproduce") or [], numbered=True)
    )
    if spec.get("expected_behavior"):
        parts.append(f"### Expected behaviour\n{spec['expected_behavior']}\n")
    if spec.get("actual_behavior"):
        parts.append(f"### Actual behaviour\n{spec['actual_behavior']}\n")
    parts.append(_section("Acceptance criteria", spec.get("acceptance_criteria") or []))
    content = neutralise_github_mentions("\n".join(p for p in parts if p))
    content = truncate(content, GITHUB_BODY_LIMIT - _FOOTER_RESERVE)
    source = f" ([original message]({jump_url}))" if jump_url else ""
    reporter_name = neutralise_github_mentions(truncate(reporter, 100))
    footer = (
        f"\n---\n_Reported on Discord by **{reporter_name}**{source}; "
        f"triaged by IterateSwarm and approved by a maintainer._\n{item_marker(item_id)}\n"
    )
    return content + footer
