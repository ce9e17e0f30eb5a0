"""Changing a forum post: add or remove one tag by name, archive or reopen it, as one edit.

Tags the forum does not have are skipped (logged once per forum and name). Discord refuses tag
and archive changes without the Manage Threads permission (403): the refusal is logged with the
permission to grant, and nothing else breaks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import discord

log = logging.getLogger(__name__)

#: Discord allows at most this many tags on a post.
MAX_TAGS = 5


@dataclass(frozen=True, slots=True)
class PostChange:
    """What to do to a post: a tag to add, a tag to remove, the archived state wanted."""

    add: str | None = None
    remove: str | None = None
    archived: bool | None = None


class PostEditor:
    """Applies `PostChange`s to forum posts through the Discord client."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self._missing: set[tuple[int, str]] = set()

    async def post(self, post_id: int) -> discord.Thread | None:
        """The forum post (cached, else fetched: archived posts are not cached)."""
        channel = self.client.get_channel(post_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(post_id)
            except discord.HTTPException as exc:
                log.info("forum post %s is not reachable: %s", post_id, exc)
                return None
        if not isinstance(channel, discord.Thread):
            return None
        return channel if isinstance(channel.parent, discord.ForumChannel) else None

    def _tag(self, forum: discord.ForumChannel, name: str | None) -> discord.ForumTag | None:
        if name is None:
            return None
        wanted = name.casefold()
        found = next((t for t in forum.available_tags if t.name.casefold() == wanted), None)
        if found is None and (forum.id, wanted) not in self._missing:
            self._missing.add((forum.id, wanted))
            log.info(
                "forum #%s has no tag %r; posts there are not tagged with it (add the tag to "
                "the forum to have it applied)",
                forum.name,
                name,
            )
        return found

    def _tags(self, post: discord.Thread, change: PostChange) -> list[discord.ForumTag] | None:
        """The post's new tags, or None when they stay as they are."""
        forum = post.parent
        assert isinstance(forum, discord.ForumChannel)
        current = list(post.applied_tags)
        tags = current
        removed = self._tag(forum, change.remove)
        if removed is not None:
            tags = [t for t in tags if t.id != removed.id]
        added = self._tag(forum, change.add)
        if added is not None and all(t.id != added.id for t in tags):
            if len(tags) >= MAX_TAGS:
                log.info("post %s already has %d tags; %r not added", post.id, MAX_TAGS, added.name)
            else:
                tags = [*tags, added]
        return tags if [t.id for t in tags] != [t.id for t in current] else None

    def _edits(self, post: discord.Thread, change: PostChange) -> list[dict[str, Any]]:
        """The edits that make the change; an archived post is reopened in the same edit."""
        tags = self._tags(post, change)
        archived = post.archived if change.archived is None else change.archived
        if tags is None:
            return [{"archived": archived}] if archived != post.archived else []
        if post.archived:
            reopen: dict[str, Any] = {"archived": False, "applied_tags": tags}
            return [reopen, {"archived": True}] if archived else [reopen]
        return [{"applied_tags": tags, **({"archived": True} if archived else {})}]

    async def apply(self, post_id: int, change: PostChange) -> bool:
        """Apply `change` to the post; True when Discord took it (or nothing was to do)."""
        post = await self.post(post_id)
        if post is None:
            return False
        try:
            for fields in self._edits(post, change):
                post = await post.edit(**fields)
        except discord.Forbidden:
            log.warning(
                "could not tag or archive forum post %s in #%s: the bot needs the Manage "
                "Threads permission there",
                post.id,
                getattr(post.parent, "name", post.parent_id),
            )
            return False
        except discord.HTTPException as exc:
            log.warning("could not change forum post %s: %s", post.id, exc)
            return False
        return True
