"""The digest as a Discord embed, within Discord's limits, user text escaped."""

from __future__ import annotations

import discord

from agents.text import truncate
from cogs.approvals._embeds import escape
from cogs.digest._build import Digest, ItemLink

FIELD_VALUE_LIMIT = 1024
DIGEST_COLOUR = 0x5865F2
OUTCOME_LABELS = (
    ("filed", "filed"),
    ("rejected", "rejected"),
    ("duplicate", "duplicate"),
    ("not_actionable", "not actionable"),
)
SEVERITY_ORDER = ("critical", "high", "medium", "low")


def _counts(counts: dict[str, int], order: tuple[str, ...] | None = None) -> str:
    keys = [k for k in order if k in counts] if order else list(counts)
    return " · ".join(f"{key}: {counts[key]}" for key in keys) or "none"


def _link_line(link: ItemLink, *, with_age: bool) -> str:
    label = f"#{link.item_id} {escape(truncate(link.title, 70))}"
    shown = f"[{label}]({link.url})" if link.url else label
    if with_age:
        shown += f" — waiting since {discord.utils.format_dt(link.since, 'R')}"
    return f"• {shown}"


def _lines(lines: list[str]) -> str:
    kept: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in kept) + len(line) > FIELD_VALUE_LIMIT:
            break
        kept.append(line)
    return "\n".join(kept)


def digest_embed(digest: Digest) -> discord.Embed:
    """The digest embed: period, new items, outcomes, oldest waiting items, themes.

    Args:
        digest: What `build_digest` gathered.

    Returns:
        An embed of at most 6 fields, each within 1024 characters.
    """
    since = discord.utils.format_dt(digest.since, "d")
    until = discord.utils.format_dt(digest.until, "d")
    embed = discord.Embed(
        title="📊 Feedback digest",
        description=f"From {since} to {until}",
        colour=DIGEST_COLOUR,
    )
    embed.add_field(
        name=f"New feedback: {digest.new_items}",
        value=f"By kind: {_counts(digest.by_kind)}\n"
        f"By severity: {_counts(digest.by_severity, SEVERITY_ORDER)}",
        inline=False,
    )
    embed.add_field(
        name="Decisions",
        value=" · ".join(
            f"{label}: {digest.outcomes.get(key, 0)}" for key, label in OUTCOME_LABELS
        ),
        inline=False,
    )
    waiting = [_link_line(link, with_age=True) for link in digest.oldest_waiting]
    embed.add_field(
        name="Oldest waiting for review",
        value=_lines(waiting) or "Nothing is waiting. 🎉",
        inline=False,
    )
    themes = []
    for rank, theme in enumerate(digest.themes, 1):
        links = ", ".join(
            f"[#{link.item_id}]({link.url})" if link.url else f"#{link.item_id}"
            for link in theme.links
        )
        themes.append(
            f"{rank}. {escape(truncate(theme.title, 80))} — {theme.count} reports ({links})"
        )
    if digest.themes_partial:
        themes.append("_Grouped within the time limit: some feedback was left out._")
    embed.add_field(
        name="Recurring themes",
        value=_lines(themes) or "No feedback came in more than once.",
        inline=False,
    )
    return embed
