"""The review message of a feedback item: an embed within Discord's limits, user text escaped."""

from __future__ import annotations

import re
from typing import Any

import discord

from agents.text import truncate
from agents.triage.same_issue import answer_note
from cogs.approvals._failure import failure_line
from storage.models import FeedbackItem, ItemStatus

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
MAX_CANDIDATES = 5

SEVERITY_COLOURS: dict[str, int] = {
    "low": 0x2ECC71,
    "medium": 0xF1C40F,
    "high": 0xE67E22,
    "critical": 0xE74C3C,
}
UNKNOWN_SEVERITY_COLOUR = 0x95A5A6
OUTCOME_COLOURS: dict[str, int] = {
    ItemStatus.FILED: 0x57F287,
    ItemStatus.DUPLICATE: 0x5865F2,
    ItemStatus.REJECTED: 0x747F8D,
    ItemStatus.EXPIRED: 0x747F8D,
    ItemStatus.FAILED: 0xED4245,
    ItemStatus.WITHDRAWN: 0x747F8D,
}
WITHDRAWN_TEXT = "↩️ Withdrawn by the reporter: they deleted their message. Nothing will be filed."
TEXTS_REMOVED = "🗑️ Its texts were removed after the retention period."
KIND_ICONS = {"bug": "🐛", "feature": "✨", "question": "❓"}
_URL = re.compile(r"^https?://\S+$")
_BRACKET = re.compile(r"(?<!\\)[\[\]]")
_HEADING = re.compile(r"^(\s*)(#{1,3}|-#)(?=\s)", re.MULTILINE)


def escape(text: str) -> str:
    """User text made inert: no markdown, no mentions, no link syntax."""
    text = discord.utils.escape_markdown(text, as_needed=False)
    text = discord.utils.escape_mentions(text)
    text = _HEADING.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)
    return _BRACKET.sub(lambda m: "\\" + m.group(0), text)


def _link(label: str, url: str | None) -> str:
    """`[label](url)` for a well-formed http(s) URL, plain label otherwise."""
    if url and _URL.match(url):
        return f"[{label}]({url})"
    return label


def colour_for(item: FeedbackItem) -> int:
    """Outcome colour once decided, severity colour while waiting."""
    if item.status in OUTCOME_COLOURS:
        return OUTCOME_COLOURS[item.status]
    return SEVERITY_COLOURS.get(item.severity or "", UNKNOWN_SEVERITY_COLOUR)


def spec_text(spec: dict[str, Any] | None) -> str:
    """The drafted issue as plain markdown (what the Edit modal is pre-filled with)."""
    spec = spec or {}
    parts = [str(spec.get("description") or "").strip()]
    steps = [str(step) for step in spec.get("steps_to_reproduce") or []]
    if steps:
        parts.append(
            "Steps to reproduce:\n" + "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
        )
    if spec.get("expected_behavior"):
        parts.append(f"Expected: {spec['expected_behavior']}")
    if spec.get("actual_behavior"):
        parts.append(f"Actual: {spec['actual_behavior']}")
    criteria = [str(c) for c in spec.get("acceptance_criteria") or []]
    if criteria:
        parts.append("Acceptance criteria:\n" + "\n".join(f"- {c}" for c in criteria))
    return "\n\n".join(part for part in parts if part)


def _spec_description(spec: dict[str, Any] | None) -> str:
    spec = spec or {}
    parts = [escape(str(spec.get("description") or "").strip())]
    steps = [escape(str(step)) for step in spec.get("steps_to_reproduce") or []]
    if steps:
        numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
        parts.append(f"**Steps to reproduce**\n{numbered}")
    if spec.get("expected_behavior"):
        parts.append(f"**Expected**\n{escape(str(spec['expected_behavior']))}")
    if spec.get("actual_behavior"):
        parts.append(f"**Actual**\n{escape(str(spec['actual_behavior']))}")
    criteria = [escape(str(c)) for c in spec.get("acceptance_criteria") or []]
    if criteria:
        parts.append("**Acceptance criteria**\n" + "\n".join(f"- {c}" for c in criteria))
    return "\n\n".join(part for part in parts if part) or "_No description drafted._"


def best_candidate_number(item: FeedbackItem) -> int | None:
    """The issue number of the best-scoring duplicate candidate that is an issue."""
    matches = (item.duplicates or {}).get("matches") or []
    for match in matches:
        if match.get("number"):
            return int(match["number"])
    return None


def _candidate_line(match: dict[str, Any]) -> str:
    score = float(match.get("score") or 0.0)
    title = escape(truncate(str(match.get("title") or ""), 80))
    if match.get("number"):
        label = f"#{match['number']}" + (f" {title}" if title else "")
    else:
        label = f"earlier feedback {escape(str(match.get('id') or ''))}"
    closed = " (closed)" if match.get("state") == "closed" else ""
    return f"• {_link(label, match.get('url'))} — {score:.2f}{closed}"


def duplicates_field(item: FeedbackItem) -> tuple[str, str] | None:
    """Name and value of the candidates field, or None when nothing looks similar."""
    result = item.duplicates or {}
    verdict = result.get("verdict")
    matches = list(result.get("matches") or [])[:MAX_CANDIDATES]
    if verdict not in ("duplicate", "possible_duplicate") or not matches:
        return None
    name = "Likely duplicate of" if verdict == "duplicate" else "May be related"
    lines: list[str] = []
    for match in matches:
        line = _candidate_line(match)
        if sum(len(x) + 1 for x in lines) + len(line) > FIELD_VALUE_LIMIT:
            break
        lines.append(line)
    reason = str(result.get("reason") or "")
    notes = [f"Why: {escape(truncate(reason, 200))}"] if reason else []
    answer = answer_note(result)
    if answer:
        notes.append(answer)
    for note in notes:
        if sum(len(x) + 1 for x in lines) + len(note) <= FIELD_VALUE_LIMIT:
            lines.append(note)
    return name, "\n".join(lines)


def _actor(item: FeedbackItem) -> str:
    actor = str((item.decision or {}).get("actor") or "a maintainer")
    return escape(truncate(actor, 100))


def _issue_link(item: FeedbackItem) -> str:
    if item.issue_number is None:
        return "the existing issue"
    return _link(f"#{item.issue_number}", item.issue_url)


def outcome_text(
    item: FeedbackItem, *, failure_reason: str | None = None, retry_limit: int = 0
) -> str | None:
    """One line on what happened to the item, or None while it waits for review."""
    status = item.status
    decision = item.decision or {}
    if status == ItemStatus.FILED:
        return f"✅ Filed as {_issue_link(item)} — approved by {_actor(item)}"
    if status == ItemStatus.DUPLICATE:
        closed = " (closed)" if item.issue_state == "closed" else ""
        return f"🔁 Duplicate of {_issue_link(item)}{closed} — marked by {_actor(item)}"
    if status == ItemStatus.REJECTED:
        reason = decision.get("reason")
        suffix = f": {escape(truncate(str(reason), 500))}" if reason else ""
        return f"❌ Rejected by {_actor(item)}{suffix}"
    if status == ItemStatus.EXPIRED:
        return "⌛ Expired: nobody decided in time"
    if status == ItemStatus.FAILED:
        why = escape(truncate(failure_reason, 300)) if failure_reason else None
        return failure_line(item, why, retry_limit)
    if status in (ItemStatus.APPROVED, ItemStatus.FILING):
        return f"⏳ Approved by {_actor(item)}; filing on GitHub…"
    if status == ItemStatus.NOT_ACTIONABLE:
        return "💬 Not actionable"
    return None


def _confidence(item: FeedbackItem) -> str:
    value = "?" if item.confidence is None else f"{item.confidence:.0%}"
    return f"{value} ⚠️ needs review" if item.needs_review else value


def reporters_text(issue_number: int, reporters: int) -> str:
    """`3 Discord users about #12` (the field shown when an item points at an issue)."""
    people = "1 Discord user" if reporters == 1 else f"{reporters} Discord users"
    return f"👥 {people} about #{issue_number}"


def review_embed(
    item: FeedbackItem,
    *,
    failure_reason: str | None = None,
    reporters: tuple[int, int] | None = None,
    retry_limit: int = 0,
) -> discord.Embed:
    """The review embed for `item`, reflecting its current status.

    Args:
        item: The feedback item as stored.
        failure_reason: Why the last filing attempt failed, for failed items.
        retry_limit: Automatic filing retries allowed (shown as "attempt 2 of 3").
        reporters: (issue number, distinct Discord users who reported what it tracks).

    Returns:
        An embed within every Discord limit (title 256, description 4096, field 1024,
        25 fields, 6000 in total); user text is escaped.
    """
    if item.content_removed_at is not None:
        return _emptied_embed(item)
    spec = item.spec or {}
    icon = KIND_ICONS.get(item.kind or "", "📝")
    title = truncate(f"{icon} {spec.get('title') or 'Untitled feedback'}", TITLE_LIMIT)
    embed = discord.Embed(
        title=title,
        url=item.issue_url if item.issue_url and _URL.match(item.issue_url) else None,
        description=truncate(_spec_description(spec), DESCRIPTION_LIMIT),
        colour=colour_for(item),
    )
    reporter = escape(truncate(item.author_name or "someone", 100))
    embed.set_author(
        name=truncate(f"Feedback #{item.id} from {item.author_name or 'someone'}", AUTHOR_LIMIT)
    )
    outcome = outcome_text(item, failure_reason=failure_reason, retry_limit=retry_limit)
    if outcome:
        embed.add_field(name="Outcome", value=truncate(outcome, FIELD_VALUE_LIMIT), inline=False)
    embed.add_field(name="Kind", value=item.kind or "?", inline=True)
    embed.add_field(name="Severity", value=item.severity or "?", inline=True)
    embed.add_field(name="Confidence", value=_confidence(item), inline=True)
    if item.reasoning:
        embed.add_field(
            name="Reasoning",
            value=truncate(escape(item.reasoning), FIELD_VALUE_LIMIT),
            inline=False,
        )
    labels = [escape(str(label)) for label in spec.get("labels") or []]
    embed.add_field(
        name="Labels", value=truncate(", ".join(labels) or "none", FIELD_VALUE_LIMIT), inline=True
    )
    candidates = duplicates_field(item)
    if candidates is not None:
        embed.add_field(name=candidates[0], value=candidates[1], inline=False)
    if reporters is not None:
        embed.add_field(name="Reported by", value=reporters_text(*reporters), inline=True)
    source = _link("jump to message", item.jump_url)
    embed.add_field(
        name="Reporter", value=truncate(f"{reporter} · {source}", FIELD_VALUE_LIMIT), inline=True
    )
    report = str((spec or {}).get("report") or item.raw_text)
    if report:
        quoted = truncate(escape(report), FIELD_VALUE_LIMIT - 2)
        embed.add_field(name="Original feedback", value=quoted, inline=False)
    if item.reporter_more:
        more = truncate(escape(item.reporter_more), FIELD_VALUE_LIMIT - 2)
        embed.add_field(name="💬 More from the reporter", value=more, inline=False)
    if item.edited_text:
        edited = truncate(escape(item.edited_text), FIELD_VALUE_LIMIT - 2)
        embed.add_field(name="✏️ Edited by the reporter since", value=edited, inline=False)
    footer = f"Item #{item.id} · engine {item.engine or '?'} · {item.status}"
    embed.set_footer(text=truncate(footer, FOOTER_LIMIT))
    _fit_total(embed)
    return embed


def _emptied_embed(item: FeedbackItem) -> discord.Embed:
    """A review message whose feedback is gone: withdrawn, or past the retention period."""
    text = WITHDRAWN_TEXT if item.status == ItemStatus.WITHDRAWN else TEXTS_REMOVED
    if item.issue_number is not None:
        text += f"\nGitHub: {_issue_link(item)}"
    embed = discord.Embed(title=f"Feedback #{item.id}", description=text, colour=colour_for(item))
    embed.set_footer(text=f"Item #{item.id} · {item.status}")
    return embed


def _fit_total(embed: discord.Embed) -> None:
    """Shorten the description, then the quoted feedback, until the embed fits 6000."""
    overflow = len(embed) - EMBED_TOTAL_LIMIT
    if overflow <= 0:
        return
    description = embed.description or ""
    keep = max(200, len(description) - overflow)
    embed.description = truncate(description, keep)
    overflow = len(embed) - EMBED_TOTAL_LIMIT
    if overflow <= 0:
        return
    for index, field in enumerate(embed.fields):
        if field.name == "Original feedback":
            value = field.value or ""
            embed.set_field_at(
                index,
                name=field.name,
                value=truncate(value, max(50, len(value) - overflow)),
                inline=field.inline,
            )
            return


def reporter_message(item: FeedbackItem, event: str) -> str | None:
    """What to tell the reporter after `event`, or None when there is nothing to say."""
    if event == "filed" and item.issue_url:
        return f"Thanks for the feedback! A maintainer filed it on GitHub: <{item.issue_url}>"
    if event == "rejected":
        reason = (item.decision or {}).get("reason")
        why = (
            f" Reason: {discord.utils.escape_mentions(truncate(str(reason), 500))}"
            if reason
            else ""
        )
        return (
            "Thanks for the feedback! After review, the maintainers decided not to file it "
            f"as an issue.{why}"
        )
    if event == "duplicate":
        where = f"<{item.issue_url}>" if item.issue_url else f"issue #{item.issue_number}"
        return f"Thanks for the feedback! This is already tracked in {where}."
    return None
