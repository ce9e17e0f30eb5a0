"""What the bot writes on GitHub: issue bodies, duplicate comments, the reporter's own words.

Every text that came from a reporter, an LLM or a maintainer's edit passes through
`agents.markdown.github_safe`: code stays byte for byte, nothing else references an
issue, notifies anyone or hides as an HTML comment. The reporter's message is quoted as
they wrote it. The item marker of an issue is written by the GitHub client, last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from agents.attachments import Attachment, attachments_section
from agents.markdown import code_span, github_length, github_safe, has_fenced_code, safe_within

GITHUB_BODY_LIMIT = 65_536
#: Room kept for the footer and the marker the client appends.
_FOOTER_RESERVE = 1_000
#: The most of an issue body the reporter's quoted message may take.
REPORT_LIMIT = 32_000
#: The most of an issue body the message's files may take.
ATTACHMENTS_LIMIT = 24_000
#: The most of a duplicate comment the quoted message may take.
COMMENT_REPORT_LIMIT = 8_000
#: A quoted message longer than this (characters or lines) is folded away.
_FOLD_CHARS, _FOLD_LINES = 3_000, 30
_NAME_LIMIT = 100

MARKER_PATTERN = re.compile(r"<!-- iterateswarm:item:(\d+) -->")


def item_marker(item_id: int) -> str:
    """Hidden marker that ties an issue or comment to its feedback item."""
    return f"<!-- iterateswarm:item:{item_id} -->"


def last_marker(body: str | None) -> int | None:
    """The item id of the last marker in `body` (the one the bot wrote), if any."""
    found = MARKER_PATTERN.findall(body or "")
    return int(found[-1]) if found else None


def display_name(name: str | None) -> str:
    """A Discord display name shown as plain text: no markup, link, image or mention."""
    flat = " ".join((name or "").split())[:_NAME_LIMIT]
    return code_span(flat) if flat else "someone"


def quoted_report(text: str, *, limit: int, source_url: str | None = None) -> str:
    """The reporter's message as they wrote it: quoted, or folded in `<details>` when long.

    Code blocks keep every byte and are never quoted line by line (so they stay intact);
    a message over `limit` is cut at a line and says where the rest is.
    """
    safe, cut = safe_within(text, limit)
    if not safe.strip():
        safe = "_(empty message)_"
    note = ""
    if cut:
        where = f"in the [original message]({source_url})" if source_url else "on Discord"
        note = f"\n\n_The message is longer than fits here; read the rest {where}._"
    lines = safe.count("\n") + 1
    long = len(safe) > _FOLD_CHARS or lines > _FOLD_LINES
    if long or has_fenced_code(text):
        summary = f"Original message ({lines} lines)" if long else "Original message"
        opening = "<details>" if long else "<details open>"
        return f"{opening}<summary>{summary}</summary>\n\n{safe}\n\n</details>{note}"
    quoted = "\n".join(f"> {line}" if line else ">" for line in safe.split("\n"))
    return f"{quoted}{note}"


def _one_line(text: Any) -> str:
    """A list item's text on one line; a leading fence is escaped (it would open a block)."""
    flat = " ".join(str(text).split())
    if flat[:3] in ("```", "~~~"):
        flat = "\\" + flat
    return github_safe(flat)


def _section(title: str, lines: list[str], *, numbered: bool = False) -> str:
    if not lines:
        return ""
    items = [
        f"{i}. {_one_line(line)}" if numbered else f"- {_one_line(line)}"
        for i, line in enumerate(lines, 1)
    ]
    return f"### {title}\n" + "\n".join(items)


def _spec_sections(spec: dict[str, Any]) -> list[str]:
    """Everything of the spec but its description, each part made safe."""
    parts = [_section("Steps to reproduce", spec.get("steps_to_reproduce") or [], numbered=True)]
    behaviour = (("expected_behavior", "Expected"), ("actual_behavior", "Actual"))
    for key, title in behaviour:
        if spec.get(key):
            parts.append(f"### {title} behaviour\n\n{github_safe(str(spec[key]).strip())}")
    parts.append(_section("Acceptance criteria", spec.get("acceptance_criteria") or []))
    return [part for part in parts if part]


def issue_body(
    *,
    spec: dict[str, Any],
    report: str,
    reporter: str | None,
    jump_url: str | None,
    more: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> str:
    """The issue's Markdown body within GitHub's limit (the client adds the marker).

    Args:
        spec: The approved draft (description, steps, behaviour, criteria).
        report: The reporter's message as received, quoted verbatim.
        reporter: Their Discord display name, shown as text.
        jump_url: Link to the original Discord message, if there is one.
        more: What the reporter added in the details thread afterwards, quoted too.
        attachments: The message's files: text shown byte for byte, the others named.
    """
    quote = "### Reported on Discord\n\n" + quoted_report(
        report, limit=REPORT_LIMIT, source_url=jump_url
    )
    if more:
        quote += "\n\n### More from the reporter\n\n" + quoted_report(
            more, limit=COMMENT_REPORT_LIMIT
        )
    files = attachments_section(attachments, limit=ATTACHMENTS_LIMIT, jump_url=jump_url)
    if files:
        quote = f"{quote}\n\n{files}"
    sections = _spec_sections(spec)
    room = GITHUB_BODY_LIMIT - _FOOTER_RESERVE - github_length(quote)
    room -= sum(github_length(part) + 2 for part in sections)
    description, cut = safe_within(str(spec.get("description") or "").strip(), max(room, 0))
    if cut:
        description += "\n\n_(The description was cut to fit GitHub's size limit.)_"
    source = f" ([original message]({jump_url}))" if jump_url else ""
    footer = (
        f"---\n_Reported on Discord by **{display_name(reporter)}**{source}; "
        "triaged by IterateSwarm and approved by a maintainer._"
    )
    return "\n\n".join(part for part in (description, *sections, quote, footer) if part)


def duplicate_comment(*, item_id: int, report: str, reporter: str | None, reporters: int) -> str:
    """The comment on an existing issue when another Discord user reports the same thing."""
    tally = f"\n\n{reporters} people on Discord have reported this so far." if reporters > 1 else ""
    quote = quoted_report(report, limit=COMMENT_REPORT_LIMIT)
    return (
        f"Another report of this from Discord (**{display_name(reporter)}**):\n\n"
        f"{quote}{tally}\n\n{item_marker(item_id)}"
    )
