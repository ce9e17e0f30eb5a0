"""The mirrored texts: what Discord shows of a comment, and the comment a message becomes."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.github import IssueComment
from cogs.comments._render import (
    DISCORD_LIMIT,
    discord_text,
    github_body,
    mirror_marker,
    worth_mirroring,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _comment(body: str, *, author: str = "maria", association: str = "MEMBER") -> IssueComment:
    return IssueComment(1, author, association, body, "https://github.com/a/b/issues/1#c1", AT)


def test_only_collaborators_comments_the_bot_did_not_write_are_mirrored() -> None:
    assert worth_mirroring(_comment("Thanks!"), bot_login="isw-bot")
    assert worth_mirroring(_comment("ok", association="COLLABORATOR"), bot_login="isw-bot")
    assert not worth_mirroring(_comment("me too", association="NONE"), bot_login="isw-bot")
    assert not worth_mirroring(_comment("hi", author="ISW-Bot"), bot_login="isw-bot")
    assert not worth_mirroring(_comment(f"quote\n{mirror_marker(5)}"), bot_login="isw-bot")
    assert not worth_mirroring(_comment("<!-- only hidden -->"), bot_login="isw-bot")


def test_the_discord_text_is_escaped_cut_at_1500_and_fits_discord() -> None:
    text = discord_text(_comment("**bold** @everyone <@123456789012345678> " + "_" * 3000), 7)
    assert text.startswith("💬 **maria** commented on issue #7 (<https://github.com/a/b/")
    assert "\\*\\*bold\\*\\*" in text
    assert "@everyone" not in text and "<@123456789012345678>" not in text
    assert len(text) <= DISCORD_LIMIT and text.endswith("…")
    short = discord_text(_comment("Fixed in 3.2. <!-- internal note -->"), 7)
    assert short.endswith("\nFixed in 3.2.")


def test_the_github_comment_quotes_the_message_safely_with_the_marker_last() -> None:
    body = github_body(
        author="rin @admins", text="see #5 and @octocat", jump_url="https://d/1", message_id=99
    )
    assert body.startswith("**`rin @admins`** wrote on Discord ([message](https://d/1)):")
    assert "> see #\u20605 and @\u2060octocat" in body
    assert body.endswith(mirror_marker(99))
