"""Forum channels in the fake Discord: tags, posts (public threads with a starter message), edits.

A forum channel (type 15) lists its `available_tags`; each post is a public thread (type 11)
whose parent is the forum, with `applied_tags` (tag ids) and a starter message whose id is the
thread's id. Creating a post dispatches THREAD_CREATE then MESSAGE_CREATE, as Discord does.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.sandbox.discord._gateway import GatewayHub
from bot.sandbox.discord._models import FakeUser, Payload
from bot.sandbox.discord._payloads import member_permissions, thread_payload
from bot.sandbox.discord._rest import guild_id_of
from bot.sandbox.discord._state import DiscordState

GUILD_FORUM = 15
MANAGE_THREADS = 1 << 34
SEND_MESSAGES = 1 << 11
#: Discord allows at most this many tags on a post.
MAX_APPLIED_TAGS = 5
#: What PATCH /channels/{thread} may change only with Manage Threads (unless the bot owns it).
MODERATED_THREAD_FIELDS = frozenset({"applied_tags", "archived", "locked"})


def forum_channel_payload(
    channel_id: int, guild_id: int, name: str, position: int, tags: list[Payload]
) -> Payload:
    """Guild forum channel object (type 15) with its available tags."""
    return {
        "id": str(channel_id),
        "type": GUILD_FORUM,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "topic": None,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
        "available_tags": tags,
        "default_reaction_emoji": None,
        "default_thread_rate_limit_per_user": 0,
        "default_sort_order": None,
        "default_forum_layout": 0,
        "default_auto_archive_duration": 4320,
    }


def tag_payload(tag_id: int, name: str, *, moderated: bool = False) -> Payload:
    """A forum tag object."""
    return {
        "id": str(tag_id),
        "name": name,
        "moderated": moderated,
        "emoji_id": None,
        "emoji_name": None,
    }


def is_forum_post(state: DiscordState, channel: Payload) -> bool:
    """Whether a channel is a thread whose parent is a forum channel."""
    parent = state.channels.get(int(channel.get("parent_id") or 0))
    return parent is not None and parent.get("type") == GUILD_FORUM


def thread_edit_problem(
    state: DiscordState, thread: Payload, body: Payload
) -> tuple[int, int, str] | None:
    """Why Discord would refuse this PATCH of a thread, as (status, code, message), or None.

    Changing tags, archiving or locking a thread the bot does not own needs Manage Threads;
    unarchiving an unlocked thread needs only Send Messages. An archived thread accepts no
    other change unless the same request unarchives it. Tags must be the forum's, at most 5.
    """
    metadata = thread.get("thread_metadata") or {}
    moderated = MODERATED_THREAD_FIELDS & set(body)
    only_unarchive = set(body) <= {"archived"} and body.get("archived") is False
    guild = state.guild_of(thread)
    if guild is not None and moderated and str(state.bot_user.id) != thread.get("owner_id"):
        allowed = member_permissions(guild, state.bot_user.id)
        needed = SEND_MESSAGES if only_unarchive and not metadata.get("locked") else MANAGE_THREADS
        if not allowed & needed:
            return 403, 50013, "Missing Permissions"
    if metadata.get("archived") and body.get("archived") is not False:
        return 400, 50083, "Thread is archived"
    if "applied_tags" in body:
        tags = [str(t) for t in body["applied_tags"] or []]
        parent = state.channels.get(int(thread.get("parent_id") or 0)) or {}
        known = {t["id"] for t in parent.get("available_tags", [])}
        if parent.get("type") != GUILD_FORUM or len(tags) > MAX_APPLIED_TAGS or set(tags) - known:
            return 400, 50035, "Invalid Form Body"
    return None


class ForumActions:
    """Driver methods for forum channels: create forums, open posts, read a post's tags."""

    state: DiscordState
    hub: GatewayHub
    guild_id: int

    def add_forum_channel(
        self,
        name: str,
        *,
        tags: Iterable[str] = ("bug", "feature", "question", "tracked", "resolved"),
        guild_id: int | None = None,
        channel_id: int | None = None,
    ) -> Payload:
        """Create a forum channel with one available tag per name (the main guild by default)."""
        guild = self.state.guilds[guild_id or self.guild_id]
        channel_id = channel_id or self.state.ids.next()
        available = [tag_payload(self.state.ids.next(), tag) for tag in tags]
        channel = forum_channel_payload(
            channel_id, guild.id, name, len(guild.channel_ids), available
        )
        return self.state.add_channel(channel)

    def forum_tag_id(self, forum_id: int, name: str) -> int:
        """The id of the forum's tag called `name` (case-insensitive)."""
        for tag in self.state.channels[forum_id].get("available_tags", []):
            if str(tag["name"]).casefold() == name.casefold():
                return int(tag["id"])
        raise KeyError(f"forum {forum_id} has no tag {name!r}")

    async def create_forum_post(
        self,
        forum_id: int,
        author: FakeUser,
        title: str,
        text: str,
        *,
        tags: Iterable[str] = (),
    ) -> Payload:
        """Open a post as `author`: THREAD_CREATE, then MESSAGE_CREATE of the starter message.

        Returns:
            The post (thread) payload; its id is also the starter message's id.
        """
        forum = self.state.channels[forum_id]
        post_id = self.state.ids.next()
        thread = thread_payload(post_id, forum, author.id, title, auto_archive_duration=4320)
        thread["applied_tags"] = [str(self.forum_tag_id(forum_id, tag)) for tag in tags]
        self.state.add_channel(thread)
        guild_id = guild_id_of(forum)
        await self.hub.dispatch(
            "THREAD_CREATE", {**thread, "newly_created": True}, guild_id=guild_id
        )
        message = self.state.build_message(thread, author, {"content": text})
        message["id"] = str(post_id)
        stored = self.state.store_message(message)
        forum["last_message_id"] = str(post_id)
        await self.hub.dispatch("MESSAGE_CREATE", stored.snapshot(), guild_id=guild_id)
        return thread

    async def delete_forum_post(self, post_id: int) -> None:
        """Delete a post (as its author or a moderator): THREAD_DELETE, no MESSAGE_DELETE."""
        thread = self.state.channels.pop(post_id)
        guild = self.state.guild_of(thread)
        if guild is not None and post_id in guild.channel_ids:
            guild.channel_ids.remove(post_id)
        for message_id in self.state.channel_messages.get(post_id, []):
            self.state.messages[message_id].deleted = True
        self.state.changed()
        event = {
            "id": thread["id"],
            "guild_id": thread["guild_id"],
            "parent_id": thread["parent_id"],
            "type": thread["type"],
        }
        await self.hub.dispatch("THREAD_DELETE", event, guild_id=guild_id_of(thread))

    def post(self, post_id: int) -> Payload:
        """The post (thread) payload as currently stored."""
        return self.state.channels[post_id]

    def post_tags(self, post_id: int) -> list[str]:
        """Names of the tags applied to a post, in order."""
        thread = self.state.channels[post_id]
        forum = self.state.channels[int(thread["parent_id"])]
        names = {tag["id"]: tag["name"] for tag in forum.get("available_tags", [])}
        return [names[t] for t in thread.get("applied_tags", []) if t in names]

    def post_archived(self, post_id: int) -> bool:
        """Whether the post is archived."""
        return bool(self.state.channels[post_id]["thread_metadata"]["archived"])
