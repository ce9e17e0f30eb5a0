"""The comments cog: an issue's comments in Discord, and the reporter's replies on the issue.

`SYNC_COMMENTS`:
- `github_to_discord`: after each issue sync, comments by the repository's collaborators
  (OWNER, MEMBER, COLLABORATOR) on an issue the bot filed or linked appear in the item's forum
  post, or in a thread on the reporter's message (`/feedback` items have no place: skipped).
- `both`: also the reporter's later messages in that post or thread become issue comments.

Nothing is mirrored back: comments the bot wrote (its identity, or any `iterateswarm` marker)
and the bot's own messages are skipped, and each comment and message is recorded once
(`storage.comment_mirrors`) with the outbox row that delivers it. Edits and deletions are not
mirrored.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from agents.text import has_substance
from bot.notify import sync_listeners
from cogs.approvals._updates import LINKED_STATUSES
from cogs.comments._delivery import CommentDelivery, has_place
from cogs.comments._render import discord_text, github_body, worth_mirroring
from cogs.intake._messages import ignored_author
from storage.comment_mirrors import (
    COMMENT_TO_DISCORD,
    COMMENT_TO_GITHUB,
    CommentMirrorRepository,
)
from storage.models import FeedbackItem, ItemStatus
from storage.outbox import Owed

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.github import GitHubClient, IssueComment
    from bot.services import Services
    from bot.sync import SyncStats
    from cogs.approvals._outbox import OutboxDelivery

log = logging.getLogger(__name__)

USER_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)


class CommentsCog(commands.Cog, name="Comments"):
    """Mirrors comments between filed issues and their Discord posts or threads."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot
        self.delivery = CommentDelivery(bot)

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.bot.services

    @property
    def mode(self) -> str:
        """`off`, `github_to_discord` or `both` (SYNC_COMMENTS)."""
        return self.services.settings.github.sync_comments

    @property
    def mirrors(self) -> CommentMirrorRepository:
        """The comment mirror repository."""
        return CommentMirrorRepository(self.services.db)

    def _outbox(self) -> OutboxDelivery | None:
        approvals: Any = self.bot.get_cog("Approvals")
        return approvals.notifier.outbox if approvals is not None else None

    async def cog_load(self) -> None:
        """Hear about finished issue syncs; deliver the two mirror kinds of the outbox."""
        sync_listeners(self.services.extras).register(self.synced)
        outbox = self._outbox()
        if outbox is not None:
            outbox.add_kind(COMMENT_TO_DISCORD, self.delivery.to_discord)
            outbox.add_kind(COMMENT_TO_GITHUB, self.delivery.to_github)

    async def cog_unload(self) -> None:
        """Stop hearing about syncs."""
        sync_listeners(self.services.extras).unregister(self.synced)

    async def _deliver(self, item_id: int) -> None:
        outbox = self._outbox()
        if outbox is not None:
            await outbox.deliver_item(item_id)

    # -- GitHub to Discord --------------------------------------------------------------------

    async def synced(self, stats: SyncStats) -> None:
        """Show the new collaborator comments on the linked issues of one sync run."""
        github = self.services.github
        if self.mode == "off" or github is None or not stats.updated:
            return
        linked = await self.services.items.find_by_issues(repo=stats.repo, numbers=stats.updated)
        by_issue: dict[int, list[FeedbackItem]] = {}
        for item in linked:
            if (
                item.id is not None
                and item.status in LINKED_STATUSES
                and item.issue_number is not None
                and has_place(item)
                and self.services.runner.owns_guild(item.guild_id)
            ):
                by_issue.setdefault(item.issue_number, []).append(item)
        if not by_issue:
            return
        bot_login = await github.identity()
        for number, items in sorted(by_issue.items()):
            try:
                comments = await self._comments(github, stats.repo, number, stats.since, bot_login)
            except Exception:
                log.warning(
                    "could not read the comments of %s#%s", stats.repo, number, exc_info=True
                )
                continue
            for item in items:
                await self._show(item, number, comments)

    @staticmethod
    async def _comments(
        github: GitHubClient, repo: str, number: int, since: datetime | None, bot_login: str
    ) -> list[IssueComment]:
        listed = await github.list_comments(repo=repo, number=number, since=since)
        return [c for c in listed if worth_mirroring(c, bot_login=bot_login)]

    async def _show(self, item: FeedbackItem, number: int, comments: list[IssueComment]) -> None:
        """Owe the item's post or thread each comment made since the item was linked."""
        assert item.id is not None
        linked_at = await self._linked_at(item) if item.status == ItemStatus.DUPLICATE else None
        owed = 0
        for comment in comments:
            if linked_at is not None and comment.created_at <= linked_at:
                continue  # said before this report was linked (or in that second)
            owed += await self.mirrors.record(
                item_id=item.id,
                guild_id=item.guild_id,
                source="github",
                source_id=comment.id,
                owed=Owed(COMMENT_TO_DISCORD, {"text": discord_text(comment, number=number)}),
            )
        if owed:
            log.info("showing %d issue comment(s) in the thread of item %s", owed, item.id)
            await self._deliver(item.id)

    async def _linked_at(self, item: FeedbackItem) -> datetime:
        """When the item was linked to its issue (whole seconds, as GitHub's timestamps)."""
        assert item.id is not None
        at = item.created_at
        for event in await self.services.items.events(item.id):
            if event.to_status in LINKED_STATUSES and event.from_status != event.to_status:
                at = event.at
        return at.replace(microsecond=0)

    # -- Discord to GitHub --------------------------------------------------------------------

    async def linked_item_of(self, channel: object) -> FeedbackItem | None:
        """The filed or linked item whose post or comment thread `channel` is, if any."""
        channel_id = getattr(channel, "id", None)
        if channel_id is None or isinstance(channel, discord.abc.GuildChannel):
            return None  # a thread is not a guild channel in discord.py; a post is a thread
        item = await self.services.items.get_by_source(f"message:{channel_id}")
        if item is None:
            item_id = await self.mirrors.item_of_thread(channel_id)
            item = await self.services.items.get(item_id) if item_id is not None else None
        if item is None or item.status not in LINKED_STATUSES or item.issue_number is None:
            return None
        return item if item.repo and self.services.runner.owns_guild(item.guild_id) else None

    async def claims(self, message: discord.Message) -> bool:
        """Whether the message is talk in a linked item's post or thread (never new feedback)."""
        if self.mode == "off" or message.guild is None:
            return False
        return await self.linked_item_of(message.channel) is not None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """With `both`: the reporter's message in their item's post or thread goes on GitHub."""
        if self.mode != "both" or message.guild is None or ignored_author(message):
            return
        if message.type not in USER_MESSAGES or not has_substance(message.content):
            return
        item = await self.linked_item_of(message.channel)
        if item is None or item.id is None or message.author.id != item.author_id:
            return
        if await self.mirrors.is_bot_mirror(message.id):
            return
        payload = {
            "repo": item.repo,
            "issue": item.issue_number,
            "message_id": message.id,
            "body": github_body(
                author=message.author.display_name,
                text=message.content,
                jump_url=message.jump_url,
                message_id=message.id,
            ),
        }
        recorded = await self.mirrors.record(
            item_id=item.id,
            guild_id=item.guild_id,
            source="discord",
            source_id=message.id,
            owed=Owed(COMMENT_TO_GITHUB, payload),
            thread_id=message.channel.id,
        )
        if recorded:
            log.info("posting reporter message %s on the issue of item %s", message.id, item.id)
            await self._deliver(item.id)
