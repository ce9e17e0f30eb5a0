"""Delivers mirrored comments (outbox kinds `comment_to_discord` and `comment_to_github`).

A comment shown in Discord goes into the item's forum post, or into a thread on the reporter's
message (opened on the first comment; an existing thread there, such as the details thread, is
used). It carries the outbox row's nonce, so a retry after a lost answer does not post twice.
A comment posted on GitHub carries its message's marker and is looked for before it is posted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord

from cogs._mentions import NO_PINGS
from cogs.approvals._outbox import Audit, Undeliverable, notice_nonce
from cogs.comments._render import mirror_marker
from storage.comment_mirrors import CommentMirrorRepository
from storage.models import FeedbackItem, OutboxMessage

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.services import Services

log = logging.getLogger(__name__)

#: Discord's error for a second thread on one message.
THREAD_EXISTS = 160004
#: A week: the longest a thread stays open without messages.
ARCHIVE_AFTER_MINUTES: Literal[10080] = 10080


def has_place(item: FeedbackItem) -> bool:
    """Whether the item has a Discord post or message to show comments at (not `/feedback`)."""
    if item.forum_post_id is not None:
        return True
    from_message = (item.source_key or "").startswith("message:")
    return from_message and item.message_id is not None and item.channel_id is not None


class CommentDelivery:
    """The two outbox handlers of mirrored comments."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.bot.services

    @property
    def mirrors(self) -> CommentMirrorRepository:
        """The comment mirror repository."""
        return CommentMirrorRepository(self.services.db)

    async def to_discord(self, row: OutboxMessage) -> Audit:
        """Post a GitHub comment in the item's post or thread."""
        item = await self.services.items.get(row.item_id)
        if item is None:
            raise Undeliverable("the item is gone")
        thread_id = await self.thread_for(item)
        channel = self.bot.get_partial_messageable(thread_id, guild_id=item.guild_id)
        message = await channel.send(
            str(row.payload["text"]),
            allowed_mentions=NO_PINGS,
            nonce=notice_nonce(row),
            suppress_embeds=True,
        )
        await self.mirrors.delivered(
            int(row.payload["mirror_id"]), mirrored_id=message.id, thread_id=thread_id
        )
        return None

    async def to_github(self, row: OutboxMessage) -> Audit:
        """Post the reporter's message as a comment on the issue, unless it is there already."""
        github = self.services.github
        if github is None:
            raise Undeliverable("GitHub is not configured")
        repo, number = str(row.payload["repo"]), int(row.payload["issue"])
        marker = mirror_marker(int(row.payload["message_id"]))
        if not await github.has_comment_with(repo=repo, number=number, text=marker):
            await github.comment(repo=repo, number=number, body=str(row.payload["body"]))
        return None

    async def thread_for(self, item: FeedbackItem) -> int:
        """The item's forum post, or the thread on its message (opened when there is none)."""
        if not has_place(item) or item.channel_id is None:
            raise Undeliverable("the item has no post or message to comment at")
        if not await self.bot.directory.may_post(item.guild_id, item.channel_id):
            raise Undeliverable("the item's channel is not in its home server")
        if item.forum_post_id is not None:
            return item.forum_post_id
        assert item.message_id is not None
        if await self.mirrors.item_of_thread(item.message_id) == item.id:
            return item.message_id
        channel = self.bot.get_partial_messageable(item.channel_id, guild_id=item.guild_id)
        name = f"Issue #{item.issue_number} on GitHub"
        try:
            thread = await channel.get_partial_message(item.message_id).create_thread(
                name=name, auto_archive_duration=ARCHIVE_AFTER_MINUTES
            )
        except discord.HTTPException as exc:
            if exc.code == THREAD_EXISTS:
                return item.message_id
            if exc.status == 400:
                raise Undeliverable(f"no thread can be opened on the message: {exc}") from exc
            raise
        return thread.id
