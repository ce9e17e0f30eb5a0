"""The forums cog: a forum post that became an item follows the decision and the GitHub issue.

- Filed → the "tracked" tag; marked duplicate → "duplicate"; rejected → "declined".
- The issue closed as completed, or given the update label ("released") → "resolved", and the
  post is archived (FORUM_ARCHIVE_RESOLVED); reopened → "resolved" removed, the post reopened.
- A deleted post is a deleted starter message: its item is removed, or withdrawn while its
  review is open (`cogs/privacy`).

The words in the post (the issue link, the reason, the update) are the reporter notices of the
approvals cog, sent as replies to the post's starter message; this cog runs after it (cogs load
in name order, and notifiers and sync listeners are called in the order they registered), so a
post is archived only after its last message. Each issue change is applied to a post once (an
`forum_post_followed` audit event per item and change).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from agents.triage.ports import ItemEvent
from bot.notify import sync_listeners
from cogs.approvals._updates import LINKED_STATUSES, IssueUpdate, updates_from
from cogs.forums._posts import PostChange, PostEditor
from storage.models import FeedbackItem

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.forum_settings import ForumSettings
    from bot.services import Services
    from bot.sync import SyncStats

log = logging.getLogger(__name__)

FOLLOWED_ACTION = "forum_post_followed"
#: Issue changes that resolve a post, and the one that reopens it.
RESOLVING = frozenset({"completed", "label"})
REOPENING = "reopened"


def decision_change(event: str, forums: ForumSettings) -> PostChange | None:
    """The tag a post gets when its item is filed, marked duplicate or rejected."""
    tag = {
        "filed": forums.tracked_tag,
        "duplicate": forums.duplicate_tag,
        "rejected": forums.declined_tag,
    }.get(event)
    return PostChange(add=tag) if tag else None


def issue_change(update: IssueUpdate, forums: ForumSettings) -> PostChange | None:
    """What a post does when its issue is resolved (closed as completed, released) or reopened."""
    if update.change in RESOLVING:
        return PostChange(add=forums.resolved_tag, archived=forums.archive_resolved or None)
    if update.change == REOPENING:
        return PostChange(remove=forums.resolved_tag, archived=False)
    return None


class ForumsCog(commands.Cog, name="Forums"):
    """Tags and archives forum posts as their items and issues move on."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot
        self.editor = PostEditor(bot)

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.bot.services

    @property
    def forums(self) -> ForumSettings:
        """The forum settings."""
        return self.services.settings.forums

    async def cog_load(self) -> None:
        """Hear about item events and finished issue syncs."""
        self.services.notifier.register(self)
        sync_listeners(self.services.extras).register(self.synced)

    async def cog_unload(self) -> None:
        """Stop hearing about them."""
        self.services.notifier.unregister(self)
        sync_listeners(self.services.extras).unregister(self.synced)

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """A deleted post takes its item along like a deleted message (or withdraws it)."""
        if not self.services.runner.owns_guild(payload.guild_id):
            return
        item = await self.services.items.get_by_source(f"message:{payload.thread_id}")
        if item is None or item.forum_post_id != payload.thread_id:
            return  # a thread on a message (the details thread, say), not a post: its message stays
        follow: Any = self.bot.get_cog("FollowDiscord")
        if follow is not None:
            await follow.message_deleted(payload.thread_id)

    async def _may_change(self, item: FeedbackItem) -> bool:
        if item.forum_post_id is None or not self.services.runner.owns_guild(item.guild_id):
            return False
        return await self.bot.directory.may_post(item.guild_id, item.forum_post_id)

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        """Tag the item's post after a maintainer's decision (never raises)."""
        change = decision_change(event, self.forums)
        if change is None:
            return
        try:
            item = await self.services.items.get(item_id)
            if item is None or item.forum_post_id is None or not await self._may_change(item):
                return
            await self.editor.apply(item.forum_post_id, change)
        except Exception:
            log.exception("could not tag the forum post of item %s", item_id)

    async def synced(self, stats: SyncStats) -> None:
        """Resolve or reopen the posts of issues that changed in one sync run."""
        updates = [
            (update, change)
            for update in updates_from(stats, self.services.settings.github.update_label)
            if (change := issue_change(update, self.forums)) is not None
        ]
        if not updates:
            return
        numbers = {update.number for update, _ in updates}
        linked = await self.services.items.find_by_issues(repo=stats.repo, numbers=numbers)
        posts: dict[int, list[FeedbackItem]] = {}
        for item in linked:
            if item.status in LINKED_STATUSES and item.forum_post_id is not None:
                posts.setdefault(item.issue_number or 0, []).append(item)
        for update, change in updates:
            for item in posts.get(update.number, []):
                if item.id is not None and await self._may_change(item):
                    await self._follow(item, f"{stats.repo}#{update.number}:{update.key}", change)

    async def _follow(self, item: FeedbackItem, key: str, change: PostChange) -> None:
        """Apply one issue change to the item's post unless it was applied before."""
        assert item.id is not None and item.forum_post_id is not None
        events = await self.services.items.events(item.id)
        if any(e.action == FOLLOWED_ACTION and (e.details or {}).get("key") == key for e in events):
            return
        if await self.editor.apply(item.forum_post_id, change):
            await self.services.items.record_event(
                item_id=item.id, actor="bot", action=FOLLOWED_ACTION, details={"key": key}
            )
