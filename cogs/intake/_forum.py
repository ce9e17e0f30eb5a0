"""Forum posts as feedback: one post is one item; replies before the review are its context.

In a forum channel listed as a feedback channel, the starter message of each post (its id is
the post's) becomes one item: the post's title, the starter message's text, a kind hint and
labels from the post's tags (`FORUM_TAG_MAP`). Replies in the post are added to the item's
context until its review message is posted; after that they are discussion, not feedback.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from agents.text import has_substance, truncate
from bot.forum_settings import ForumSettings
from cogs.intake._messages import item_from_message
from storage.models import FeedbackItemBase, ItemStatus, SourceKind

if TYPE_CHECKING:
    from storage.forum_posts import ForumPostRepository
    from storage.items import ItemRepository

log = logging.getLogger(__name__)

#: Statuses in which a reply in the post still counts as context of the item.
CONTEXT_STATUSES = frozenset({ItemStatus.RECEIVED, ItemStatus.TRIAGING})
#: Longest reply kept as context, and the most context an item keeps.
REPLY_LIMIT = 1000
CONTEXT_LIMIT = 8000


async def forum_post(client: discord.Client, channel: object) -> discord.Thread | None:
    """The forum post a message was sent in, or None when it is not in a forum post."""
    thread = channel if isinstance(channel, discord.Thread) else None
    if thread is None and isinstance(channel, discord.PartialMessageable | discord.Object):
        try:
            fetched = await client.fetch_channel(channel.id)
        except discord.HTTPException:
            return None
        thread = fetched if isinstance(fetched, discord.Thread) else None
    if thread is None:
        return None
    parent = thread.parent
    if parent is None and thread.parent_id is not None:
        parent = client.get_channel(thread.parent_id)  # type: ignore[assignment]
    return thread if isinstance(parent, discord.ForumChannel) else None


def post_item(
    message: discord.Message, post: discord.Thread, forums: ForumSettings
) -> FeedbackItemBase:
    """The intake fields of a post's starter message: its title, text, tags' kind and labels."""
    kind, labels = forums.meaning([tag.name for tag in post.applied_tags])
    return FeedbackItemBase(
        source_kind=SourceKind.CHANNEL,
        source_key=f"message:{message.id}",
        guild_id=message.guild.id if message.guild else None,
        channel_id=post.id,
        message_id=message.id,
        author_id=message.author.id,
        author_name=message.author.display_name[:200],
        jump_url=message.jump_url,
        raw_text=message.content,
        kind_hint=kind,
        forum_post_id=post.id,
        title=post.name[:200],
        reporter_labels=labels or None,
    )


def channel_item(
    message: discord.Message,
    post: discord.Thread | None,
    forums: ForumSettings,
    *,
    bot_id: int | None = None,
) -> FeedbackItemBase:
    """The intake fields of a feedback-channel message: a post's starter, or any message."""
    if post is None:
        return item_from_message(message, SourceKind.CHANNEL, bot_id=bot_id)
    return post_item(message, post, forums)


def has_words(base: FeedbackItemBase) -> bool:
    """Whether the post's title and text together say something."""
    return has_substance(f"{base.title or ''}\n{base.raw_text}")


def context_line(message: discord.Message) -> str:
    """One reply as a line of context: who wrote it and what (on one line)."""
    text = " ".join(message.content.split())
    return f"{message.author.display_name[:100]}: {truncate(text, REPLY_LIMIT)}\n"


def fits_context(current: str | None, line: str) -> bool:
    """Whether one more line keeps the item's context within its limit."""
    return len(current or "") + len(line) <= CONTEXT_LIMIT


class PostReplies:
    """Adds the reporter's replies in a forum post to its item's context until the review is
    posted."""

    def __init__(self, items: ItemRepository, posts: ForumPostRepository) -> None:
        self.items = items
        self.posts = posts

    async def on_reply(self, message: discord.Message, post: discord.Thread) -> bool:
        """Keep the reporter's own reply as context of the post's item; True when added.

        Other people's replies stay discussion in Discord: their words are not theirs to
        publish on GitHub through someone else's report (and /forget could not find them there).
        """
        if not has_substance(message.content):
            return False
        item = await self.items.get_by_source(f"message:{post.id}")
        if item is None or item.id is None or message.author.id != item.author_id:
            return False
        added = await self.posts.add_context(
            item_id=item.id,
            line=context_line(message),
            statuses=CONTEXT_STATUSES,
            limit=CONTEXT_LIMIT,
        )
        if added:
            log.info("reply %s in post %s added to item %s", message.id, post.id, item.id)
        return added
