"""In-memory world of the fake Discord: users, guilds, channels, messages, commands."""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.discord._interaction_records import FakeInteraction
from bot.sandbox.discord._models import (
    LOADING_FLAG,
    ChangeSignal,
    FailureRule,
    FakeGuild,
    FakeUser,
    MentionCheck,
    Payload,
    RecordedRequest,
    SnowflakeFactory,
    StoredMessage,
    iso_now,
)
from bot.sandbox.discord._payloads import (
    THREAD_TYPES,
    dm_channel_payload,
    member_payload,
    mentioned_ids,
    normalise_embeds,
    would_ping,
)

REPLY_TYPE = 19
CHAT_INPUT_COMMAND_TYPE = 20
#: Application flags: the Message Content intent switched on in the developer portal
#: (verified bots get GATEWAY_MESSAGE_CONTENT, the others GATEWAY_MESSAGE_CONTENT_LIMITED).
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19


def emoji_parts(emoji: str) -> tuple[str, Payload]:
    """Normalised key and emoji object for a unicode emoji or `name:id` / `<:name:id>`."""
    text = emoji.strip().removeprefix("<").removesuffix(">")
    animated = text.startswith("a:")
    if animated:
        text = text[2:]
    text = text.removeprefix(":")
    if ":" in text:
        name, _, emoji_id = text.rpartition(":")
        if emoji_id.isdigit():
            return f"{name}:{emoji_id}", {"id": emoji_id, "name": name, "animated": animated}
    return emoji, {"id": None, "name": emoji}


class DiscordState:
    """Everything the fake knows and everything the client did, in memory."""

    def __init__(self, *, application_id: int, bot_user: FakeUser) -> None:
        self.ids = SnowflakeFactory()
        self.signal = ChangeSignal()
        self.application_id = application_id
        self.bot_user = bot_user
        self.users: dict[int, FakeUser] = {bot_user.id: bot_user}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, Payload] = {}
        self.messages: dict[int, StoredMessage] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.reactions: dict[int, list[tuple[str, int]]] = {}
        self.dm_channels: dict[int, int] = {}
        self.commands: dict[int | None, list[Payload]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.requests: list[RecordedRequest] = []
        self.unknown_routes: list[RecordedRequest] = []
        self.mention_checks: list[MentionCheck] = []
        self.failures: list[FailureRule] = []
        self.blocked_dm_users: set[int] = set()
        self.message_content_intent = True
        self.bot_public = False
        self.left_guilds: list[int] = []

    def changed(self) -> None:
        """Wake everyone waiting for a change."""
        self.signal.notify()

    def add_channel(self, channel: Payload) -> Payload:
        """Store a channel and link it to its guild."""
        channel_id = int(channel["id"])
        self.channels[channel_id] = channel
        self.channel_messages.setdefault(channel_id, [])
        guild = self.guild_of(channel)
        if guild is not None and channel_id not in guild.channel_ids:
            guild.channel_ids.append(channel_id)
        self.changed()
        return channel

    @property
    def application_flags(self) -> int:
        """The application's flags as `GET /applications/@me` and READY report them."""
        return GATEWAY_MESSAGE_CONTENT_LIMITED if self.message_content_intent else 0

    def bot_is_in(self, guild_id: int | None) -> bool:
        """Whether the bot is a member of the guild (DMs: always)."""
        if guild_id is None:
            return True
        guild = self.guilds.get(guild_id)
        return guild is not None and self.bot_user.id in guild.members

    def bot_guilds(self) -> list[FakeGuild]:
        """Guilds the bot is a member of."""
        return [g for g in self.guilds.values() if self.bot_user.id in g.members]

    def guild_of(self, channel: Payload | None) -> FakeGuild | None:
        """Guild a channel belongs to, if any."""
        if channel is None or channel.get("guild_id") is None:
            return None
        return self.guilds.get(int(channel["guild_id"]))

    def guild_channels(self, guild: FakeGuild) -> list[Payload]:
        """Channels (and threads) of a guild."""
        return [self.channels[c] for c in guild.channel_ids if c in self.channels]

    def open_dm(self, user: FakeUser) -> Payload:
        """The DM channel between the bot and `user`, created on first use."""
        channel_id = self.dm_channels.get(user.id)
        if channel_id is None:
            channel_id = self.ids.next()
            self.dm_channels[user.id] = channel_id
            self.add_channel(dm_channel_payload(channel_id, user))
        return self.channels[channel_id]

    def dm_recipient(self, channel: Payload) -> int | None:
        """User id on the other side of a DM channel."""
        recipients = channel.get("recipients") or []
        return int(recipients[0]["id"]) if recipients else None

    def build_message(
        self,
        channel: Payload,
        author: FakeUser,
        body: Payload,
        *,
        message_type: int = 0,
        interaction: FakeInteraction | None = None,
    ) -> Payload:
        """Message payload for `body` (content, embeds, components, flags, message_reference)."""
        message_id = self.ids.next()
        guild = self.guild_of(channel)
        content = str(body.get("content") or "")
        user_ids, role_ids, everyone = mentioned_ids(content)
        mentions = []
        for user_id in dict.fromkeys(user_ids):
            user = self.users.get(user_id)
            if user is None:
                continue
            mention = user.payload()
            if guild is not None and user_id in guild.members:
                mention["member"] = member_payload(guild, user, with_user=False)
            mentions.append(mention)
        payload: Payload = {
            "id": str(message_id),
            "channel_id": channel["id"],
            "author": author.payload(),
            "content": content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": everyone and not author.bot,
            "mentions": mentions,
            "mention_roles": [str(r) for r in dict.fromkeys(role_ids)],
            "attachments": list(body.get("attachments") or []),
            "embeds": normalise_embeds(body.get("embeds")),
            "components": copy.deepcopy(list(body.get("components") or [])),
            "reactions": [],
            "pinned": False,
            "type": message_type,
            "flags": int(body.get("flags") or 0),
        }
        if body.get("nonce") is not None:
            payload["nonce"] = body["nonce"]
        if guild is not None:
            payload["guild_id"] = str(guild.id)
            if author.id in guild.members:
                payload["member"] = member_payload(guild, author, with_user=False)
        reference = body.get("message_reference")
        if isinstance(reference, dict) and reference.get("message_id") is not None:
            referenced = self.messages.get(int(reference["message_id"]))
            payload["message_reference"] = {
                "type": 0,
                "message_id": str(reference["message_id"]),
                "channel_id": str(reference.get("channel_id") or channel["id"]),
            }
            if guild is not None:
                payload["message_reference"]["guild_id"] = str(guild.id)
            payload["referenced_message"] = referenced.snapshot() if referenced else None
            if payload["type"] == 0:
                payload["type"] = REPLY_TYPE
        if interaction is not None:
            payload["application_id"] = str(self.application_id)
            payload["webhook_id"] = str(self.application_id)
            user = interaction.payload.get("member", {}).get("user") or interaction.payload.get(
                "user"
            )
            payload["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": user,
                "authorizing_integration_owners": {},
            }
        return payload

    def store_message(
        self, payload: Payload, *, interaction_id: int | None = None
    ) -> StoredMessage:
        """Keep a new message and bump the channel's last_message_id."""
        stored = StoredMessage(payload=payload, interaction_id=interaction_id)
        self.messages[stored.id] = stored
        self.channel_messages.setdefault(stored.channel_id, []).append(stored.id)
        channel = self.channels.get(stored.channel_id)
        if channel is not None:
            channel["last_message_id"] = str(stored.id)
            if channel["type"] in THREAD_TYPES:
                channel["message_count"] = channel.get("message_count", 0) + 1
                channel["total_message_sent"] = channel.get("total_message_sent", 0) + 1
        self.changed()
        return stored

    def edit_message(self, stored: StoredMessage, body: Payload) -> StoredMessage:
        """Apply an edit body (content, embeds, components, flags, attachments), keeping history."""
        stored.history.append(stored.snapshot())
        payload = stored.payload
        if "content" in body:
            payload["content"] = str(body["content"] or "")
            user_ids, role_ids, everyone = mentioned_ids(payload["content"])
            payload["mentions"] = [
                self.users[u].payload() for u in dict.fromkeys(user_ids) if u in self.users
            ]
            payload["mention_roles"] = [str(r) for r in dict.fromkeys(role_ids)]
            payload["mention_everyone"] = everyone and not stored.payload["author"].get("bot")
        if "embeds" in body:
            payload["embeds"] = normalise_embeds(body["embeds"])
        if "components" in body:
            payload["components"] = copy.deepcopy(list(body["components"] or []))
        if "attachments" in body:
            payload["attachments"] = list(body["attachments"] or [])
        if "flags" in body and body["flags"] is not None:
            payload["flags"] = int(body["flags"])
        if payload.get("flags", 0) & LOADING_FLAG:
            payload["flags"] &= ~LOADING_FLAG
        else:
            payload["edited_timestamp"] = iso_now()
        self.changed()
        return stored

    def reaction_payloads(self, message_id: int) -> list[Payload]:
        """`reactions` array of a message."""
        counts: dict[str, list[int]] = {}
        for key, user_id in self.reactions.get(message_id, []):
            counts.setdefault(key, []).append(user_id)
        result = []
        for key, users in counts.items():
            _, emoji = emoji_parts(key)
            result.append(
                {
                    "emoji": emoji,
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "me": self.bot_user.id in users,
                    "me_burst": False,
                    "burst_me": False,
                    "burst_colors": [],
                    "burst_count": 0,
                }
            )
        return result

    def message_view(self, stored: StoredMessage) -> Payload:
        """Current message payload with live reactions."""
        payload = stored.snapshot()
        payload["reactions"] = self.reaction_payloads(stored.id)
        return payload

    def put_commands(self, guild_id: int | None, commands: list[Payload]) -> list[Payload]:
        """Bulk-overwrite commands; a command keeps its id when name and type match."""
        existing = {(c["name"], c.get("type", 1)): c for c in self.commands.get(guild_id, [])}
        stored = []
        for command in commands:
            kind = int(command.get("type", 1))
            previous = existing.get((command["name"], kind))
            stored.append(self.command_payload(command, guild_id, previous))
        self.commands[guild_id] = stored
        self.changed()
        return stored

    def command_payload(
        self, command: Payload, guild_id: int | None, previous: Payload | None = None
    ) -> Payload:
        """Application command object as Discord returns it."""
        data: Payload = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            **command,
        }
        data["id"] = previous["id"] if previous else str(self.ids.next())
        data["application_id"] = str(self.application_id)
        data["version"] = str(self.ids.next())
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return data

    def find_command(self, name: str, kind: int, guild_id: int | None) -> Payload | None:
        """A registered command by name and type, guild commands first."""
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for command in self.commands.get(scope, []):
                if command["name"] == name and int(command.get("type", 1)) == kind:
                    return command
        return None

    def interaction_by_token(self, token: str) -> FakeInteraction | None:
        """Interaction whose token is `token`."""
        return next((i for i in self.interactions.values() if i.token == token), None)

    def record_mentions(
        self, method: str, path: str, body: Payload, *, replied_user_id: int | None = None
    ) -> MentionCheck:
        """Remember allowed_mentions and what would have pinged for a sent message."""
        content = str(body.get("content") or "")
        allowed: Any = body.get("allowed_mentions")
        check = MentionCheck(
            method=method,
            path=path,
            content=content,
            allowed_mentions=allowed if isinstance(allowed, dict) else None,
            pings=would_ping(
                content,
                allowed if isinstance(allowed, dict) else None,
                replied_user_id=replied_user_id,
            ),
        )
        self.mention_checks.append(check)
        return check
