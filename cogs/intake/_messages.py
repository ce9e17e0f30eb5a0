"""What intake tells people, and which messages and reactions it looks at."""

from __future__ import annotations

import discord

from agents.text import without_mentions_of
from storage.models import FeedbackItemBase, SourceKind

NONE = discord.AllowedMentions.none()
SEND_TO_TRIAGE = "Send to triage"
NO_SUBSTANCE = (
    "I can only pass on feedback written in words. Could you describe what happened "
    "or what you would like, in a sentence or two?"
)
SLOW_DOWN = "You're sending feedback quickly; it's saved and will be looked at shortly."
BACKLOG_FULL = (
    "You've sent a lot of feedback in a short time: {waiting} of your messages are waiting "
    "for triage, so I'm not picking up more for now. Your messages stay here, and a "
    "maintainer can still send any of them to triage."
)
NOT_MAINTAINER = (
    "Only maintainers can send messages to triage. To send your own feedback, use /feedback."
)


def emoji_matches(emoji: discord.PartialEmoji, configured: str) -> bool:
    """Whether a reaction is the configured emoji (unicode, `name:id` or `<:name:id>`)."""
    configured = configured.strip()
    if emoji.id is None:
        return emoji.name == configured
    bare = configured.removeprefix("<").removesuffix(">").removeprefix("a:").removeprefix(":")
    return bare in (f"{emoji.name}:{emoji.id}", str(emoji.id)) or configured == str(emoji)


def ignored_author(message: discord.Message) -> bool:
    """Bots, webhooks and Discord's system messages are never feedback."""
    return message.author.bot or message.webhook_id is not None or message.author.system


def mentions_user(message: discord.Message, user_id: int | None) -> bool:
    """Whether the message mentions `user_id` (without Message Content, only those are read)."""
    return user_id is not None and any(user.id == user_id for user in message.mentions)


def feedback_text(message: discord.Message, bot_id: int | None) -> str:
    """The message's text without mentions of the bot (how it is addressed, not feedback)."""
    return without_mentions_of(message.content, bot_id)


def item_from_message(
    message: discord.Message, kind: SourceKind, *, bot_id: int | None = None
) -> FeedbackItemBase:
    """The intake fields of a Discord message (mentions of `bot_id` left out of its text)."""
    return FeedbackItemBase(
        source_kind=kind,
        source_key=f"message:{message.id}",
        guild_id=message.guild.id if message.guild else None,
        channel_id=message.channel.id,
        message_id=message.id,
        author_id=message.author.id,
        author_name=message.author.display_name[:200],
        jump_url=message.jump_url,
        raw_text=feedback_text(message, bot_id),
    )
