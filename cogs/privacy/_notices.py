"""What people are told about their data: confirmations, reports, maintainer notices."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord

from agents.text import truncate
from bot.guild_settings import GuildSettingsResolver
from bot.personal_data import ForgetReport
from cogs._mentions import NO_PINGS
from storage.item_privacy import GitHubTrace, ReviewMessage

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
MAX_LINKS = 10
REMOVED_COLOUR = 0x747F8D
NOT_MANAGER = "Only members with the Manage Server permission can remove someone else's data."
NOT_YOURS = "Only the person who asked can confirm this."
KEPT = "Nothing was removed."


def _who(me: bool) -> tuple[str, str]:
    return ("you", "your") if me else ("this member", "their")


def _issue_line(trace: GitHubTrace) -> str:
    where = f"<{trace.url}>" if trace.url else f"{trace.repo}#{trace.issue_number}"
    how = "filed from the feedback" if trace.how == "filed" else "a comment quotes the feedback"
    return f"• {where} ({how})"


def _issue_lines(traces: Iterable[GitHubTrace]) -> list[str]:
    lines = sorted({_issue_line(trace) for trace in traces})
    if len(lines) > MAX_LINKS:
        lines = [*lines[:MAX_LINKS], f"• … and {len(lines) - MAX_LINKS} more"]
    return lines


def _fit(lines: list[str]) -> str:
    return truncate("\n".join(lines), MESSAGE_LIMIT)


def confirmation(*, me: bool, items: int, traces: list[GitHubTrace], everywhere: bool) -> str:
    """The question asked before anything is removed."""
    who, whose = _who(me)
    scope = "in every server it serves" if everywhere else "in this server"
    lines = [
        f"This removes everything IterateSwarm keeps about {who} {scope}: "
        f"{items} feedback item(s) with {whose} texts, and {whose} name and id from its "
        "records (decisions, audit trail, learned corrections, the duplicate index).",
        "Review messages about the removed feedback are emptied. This cannot be undone.",
    ]
    if traces:
        lines += [
            "Issues already on GitHub are not deleted (the maintainers decide about those):",
            *_issue_lines(traces),
        ]
    return _fit(lines)


def report_text(report: ForgetReport, *, me: bool) -> str:
    """What the person who confirmed is told afterwards."""
    whose = _who(me)[1]
    lines = [
        f"Done: {report.items} feedback item(s) and {whose} name and id were removed from "
        "IterateSwarm's records.",
    ]
    counted = [f"{name}: {count}" for name, count in sorted(report.records.items()) if count]
    if counted:
        lines.append("Removed or anonymised: " + ", ".join(counted) + ".")
    if report.github:
        lines += [
            "Still on GitHub (the bot does not delete issues; the maintainers were told):",
            *_issue_lines(report.github),
        ]
    return _fit(lines)


def maintainer_notice(traces: list[GitHubTrace], items: int) -> str:
    """Posted in a guild's review channel after someone's data was removed (not naming them)."""
    lines = [
        f"🗑️ At a member's request, IterateSwarm removed {items} feedback item(s) and their "
        "name from its records.",
    ]
    if traces:
        lines += [
            "Their words remain on GitHub, which the bot does not change. Edit or delete "
            "these issues there if needed (until they change there, they are left out of "
            "the duplicate index):",
            *_issue_lines(traces),
        ]
    return _fit(lines)


REMOVED_ON_REQUEST = "Removed at the reporter's request; nothing about it is kept by the bot."
REMOVED_WITH_MESSAGE = "Removed: the reporter deleted their message before it was filed."


def removed_embed(
    review: ReviewMessage, traces: list[GitHubTrace], *, why: str = REMOVED_ON_REQUEST
) -> discord.Embed:
    """What a review message about removed feedback shows instead."""
    lines = [why]
    lines += [_issue_line(trace) for trace in traces if trace.item_id == review.item_id]
    embed = discord.Embed(
        title=f"Feedback #{review.item_id} removed",
        description="\n".join(lines),
        colour=REMOVED_COLOUR,
    )
    embed.set_footer(text=f"Item #{review.item_id} · removed")
    return embed


async def empty_review_messages(client: discord.Client, report: ForgetReport) -> int:
    """Replace the review messages of removed items with a short notice; returns how many."""
    emptied = 0
    for review in report.reviews:
        channel = client.get_partial_messageable(review.channel_id, guild_id=review.guild_id)
        try:
            await channel.get_partial_message(review.message_id).edit(
                content=None, embed=removed_embed(review, report.github), view=None
            )
        except discord.HTTPException as exc:
            log.info("could not empty review message %s: %s", review.message_id, exc)
            continue
        emptied += 1
    return emptied


async def tell_discord(
    client: discord.Client, guild_settings: GuildSettingsResolver, report: ForgetReport
) -> None:
    """Empty the review messages, and tell each guild's maintainers what stays on GitHub."""
    await empty_review_messages(client, report)
    for guild_id in sorted(report.guilds):
        settings = await guild_settings.resolve(guild_id)
        if settings.review_channel_id is None:
            continue
        traces = [t for t in report.github if t.guild_id == guild_id]
        notice = maintainer_notice(traces, report.by_guild.get(guild_id, 0))
        channel = client.get_partial_messageable(settings.review_channel_id, guild_id=guild_id)
        try:
            await channel.send(notice, allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning("could not tell the maintainers of guild %s: %s", guild_id, exc)
