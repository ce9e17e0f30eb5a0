"""Builders for Discord payload shapes and the allowed_mentions ping check."""

from __future__ import annotations

import re
from typing import Any

from bot.sandbox.discord._models import FakeGuild, FakeUser, Payload, iso_now

ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 50) - 1
DEFAULT_MEMBER_PERMISSIONS = (
    (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 14)  # embed links
    | (1 << 15)  # attach files
    | (1 << 16)  # read message history
    | (1 << 31)  # use application commands
    | (1 << 35)  # create public threads
    | (1 << 38)  # send messages in threads
)
MAINTAINER_PERMISSIONS = (1 << 13) | (1 << 34)  # manage messages, manage threads
BOT_PERMISSIONS = DEFAULT_MEMBER_PERMISSIONS | MAINTAINER_PERMISSIONS | (1 << 36)

GUILD_TEXT = 0
DM = 1
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (10, PUBLIC_THREAD, PRIVATE_THREAD)

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EVERYONE_MENTION = re.compile(r"@(everyone|here)\b")


def member_permissions(guild: FakeGuild, user_id: int) -> int:
    """Guild-level permissions of a member: @everyone plus each role, admin meaning all."""
    everyone = guild.roles.get(guild.id)
    value = everyone.permissions if everyone else 0
    for role_id in guild.members.get(user_id, []):
        role = guild.roles.get(role_id)
        if role is not None:
            value |= role.permissions
    if guild.owner_id == user_id or value & ADMINISTRATOR:
        return ALL_PERMISSIONS
    return value


def member_payload(
    guild: FakeGuild, user: FakeUser, *, with_user: bool = True, with_permissions: bool = False
) -> Payload:
    """Guild member object: no `user` inside MESSAGE_CREATE, `permissions` for interactions."""
    data: Payload = {
        "roles": [str(r) for r in guild.members.get(user.id, [])],
        "joined_at": guild.joined_at,
        "nick": None,
        "avatar": None,
        "banner": None,
        "premium_since": None,
        "communication_disabled_until": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
    }
    if with_user:
        data["user"] = user.payload()
    if with_permissions:
        data["permissions"] = str(member_permissions(guild, user.id))
    return data


def text_channel_payload(
    channel_id: int, guild_id: int, name: str, position: int, topic: str | None = None
) -> Payload:
    """Guild text channel object."""
    return {
        "id": str(channel_id),
        "type": GUILD_TEXT,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "topic": topic,
        "nsfw": False,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "parent_id": None,
        "flags": 0,
    }


def thread_payload(
    thread_id: int,
    parent: Payload,
    owner_id: int,
    name: str,
    *,
    thread_type: int = PUBLIC_THREAD,
    auto_archive_duration: int = 1440,
) -> Payload:
    """Thread channel object under the text channel `parent`."""
    now = iso_now()
    return {
        "id": str(thread_id),
        "type": thread_type,
        "guild_id": parent["guild_id"],
        "parent_id": parent["id"],
        "owner_id": str(owner_id),
        "name": name,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": auto_archive_duration,
            "archive_timestamp": now,
            "locked": False,
            "invitable": thread_type == PRIVATE_THREAD,
            "create_timestamp": now,
        },
    }


def dm_channel_payload(channel_id: int, recipient: FakeUser) -> Payload:
    """Direct-message channel object."""
    return {
        "id": str(channel_id),
        "type": DM,
        "last_message_id": None,
        "recipients": [recipient.payload()],
        "flags": 0,
    }


def _archived(thread: Payload) -> bool:
    """Whether a thread is archived (GUILD_CREATE lists only active threads)."""
    return bool((thread.get("thread_metadata") or {}).get("archived"))


def guild_create_payload(
    guild: FakeGuild, channels: list[Payload], users: dict[int, FakeUser]
) -> Payload:
    """Full GUILD_CREATE payload for a guild."""
    members = [member_payload(guild, users[uid]) for uid in guild.members if uid in users]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "application_id": None,
        "vanity_url_code": None,
        "max_members": 500000,
        "features": [],
        "emojis": [],
        "stickers": [],
        "roles": [role.payload() for role in guild.roles.values()],
        "channels": [c for c in channels if c["type"] not in THREAD_TYPES],
        "threads": [c for c in channels if c["type"] in THREAD_TYPES and not _archived(c)],
        "members": members,
        "member_count": len(members),
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "large": False,
        "unavailable": False,
        "joined_at": guild.joined_at,
        "lazy": True,
    }


def mentioned_ids(content: str) -> tuple[list[int], list[int], bool]:
    """User ids, role ids and whether @everyone/@here appear in `content`."""
    users = [int(m) for m in USER_MENTION.findall(content)]
    roles = [int(m) for m in ROLE_MENTION.findall(content)]
    return users, roles, EVERYONE_MENTION.search(content) is not None


def would_ping(
    content: str,
    allowed_mentions: Payload | None,
    *,
    replied_user_id: int | None = None,
) -> list[str]:
    """Mentions in `content` (and a reply) that would notify someone, given allowed_mentions.

    Without allowed_mentions Discord parses everything and pings the replied-to author.

    Args:
        content: Message text.
        allowed_mentions: The object sent with the message, or None when absent.
        replied_user_id: Author of the referenced message for replies.

    Returns:
        Human-readable descriptions of each ping, empty when nobody is notified.
    """
    users, roles, everyone = mentioned_ids(content)
    if allowed_mentions is None:
        parse: list[str] = ["users", "roles", "everyone"]
        allowed_users: list[int] = []
        allowed_roles: list[int] = []
        replied_user = True
    else:
        parse = list(allowed_mentions.get("parse") or [])
        allowed_users = [int(u) for u in allowed_mentions.get("users") or []]
        allowed_roles = [int(r) for r in allowed_mentions.get("roles") or []]
        replied_user = bool(allowed_mentions.get("replied_user", False))
    pings: list[str] = []
    for user_id in users:
        if "users" in parse or user_id in allowed_users:
            pings.append(f"user {user_id}")
    for role_id in roles:
        if "roles" in parse or role_id in allowed_roles:
            pings.append(f"role {role_id}")
    if everyone and "everyone" in parse:
        pings.append("@everyone/@here")
    if replied_user_id is not None and replied_user:
        pings.append(f"reply to user {replied_user_id}")
    return pings


def normalise_embeds(embeds: Any) -> list[Payload]:
    """Embeds as stored by Discord (type defaults to rich)."""
    result: list[Payload] = []
    for embed in embeds or []:
        if isinstance(embed, dict):
            result.append({"type": "rich", **embed})
    return result
