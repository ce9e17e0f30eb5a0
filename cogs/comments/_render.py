"""The mirrored texts: a GitHub comment as a Discord message, a Discord message as a comment."""

from __future__ import annotations

import re

import discord

from agents.text import truncate
from agents.triage.render import COMMENT_REPORT_LIMIT, display_name, quoted_report
from bot.github import IssueComment

#: Roles whose comments are shown in Discord (GitHub's `author_association`).
COLLABORATORS = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
#: The most of a comment shown in Discord, and Discord's limit for a whole message.
EXCERPT_LIMIT = 1_500
DISCORD_LIMIT = 2_000
#: Anything the bot writes on GitHub carries a hidden marker starting so.
BOT_MARKER = "<!-- iterateswarm:"
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def mirror_marker(message_id: int) -> str:
    """The hidden marker of a comment the bot wrote for a Discord message."""
    return f"<!-- iterateswarm:mirror:discord:{message_id} -->"


def worth_mirroring(comment: IssueComment, *, bot_login: str) -> bool:
    """A collaborator's comment that the bot did not write (no marker, not its identity)."""
    if comment.association.upper() not in COLLABORATORS:
        return False
    if comment.author.lower() == bot_login.lower() or BOT_MARKER in comment.body:
        return False
    return bool(_HTML_COMMENT.sub("", comment.body).strip())


def _discord_safe(text: str) -> str:
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def discord_text(comment: IssueComment, number: int) -> str:
    """The Discord message for a comment: author, the first 1,500 characters, the link.

    Markdown and mentions are escaped (the message is also sent with no allowed mentions);
    the link is in angle brackets so it does not embed.
    """
    author = _discord_safe(comment.author)
    head = f"💬 **{author}** commented on issue #{number} (<{comment.url}>):\n"
    visible = _HTML_COMMENT.sub("", comment.body).strip()
    excerpt = _discord_safe(truncate(visible, EXCERPT_LIMIT))
    room = DISCORD_LIMIT - len(head)
    if len(excerpt) > room:
        excerpt = excerpt[: room - 1].rstrip("\\") + "…"
    return head + excerpt


def github_body(*, author: str, text: str, jump_url: str | None, message_id: int) -> str:
    """The comment for the reporter's Discord message: their name, the quote, the marker."""
    source = f" ([message]({jump_url}))" if jump_url else ""
    quote = quoted_report(text, limit=COMMENT_REPORT_LIMIT, source_url=jump_url)
    return (
        f"**{display_name(author)}** wrote on Discord{source}:\n\n{quote}\n\n"
        f"{mirror_marker(message_id)}"
    )
