"""Read-side of the fake Discord: messages, reactions, DMs, commands, requests and pings."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.sandbox.discord._attachments import AttachmentStore
from bot.sandbox.discord._interaction_records import FakeInteraction
from bot.sandbox.discord._models import (
    FakeUser,
    MentionCheck,
    Payload,
    RecordedRequest,
    StoredMessage,
)
from bot.sandbox.discord._payloads import THREAD_TYPES
from bot.sandbox.discord._state import DiscordState, emoji_parts


class RecordQueries:
    """Queries over everything the fake recorded, plus waits on its changes."""

    state: DiscordState
    attachments: AttachmentStore
    bot_user: FakeUser

    def messages_in(
        self,
        channel_id: int,
        *,
        include_ephemeral: bool = False,
        include_deleted: bool = False,
    ) -> list[StoredMessage]:
        """Messages of a channel, oldest first, in their current (edited) state."""
        result = []
        for message_id in self.state.channel_messages.get(channel_id, []):
            stored = self.state.messages[message_id]
            if stored.deleted and not include_deleted:
                continue
            if stored.ephemeral and not include_ephemeral:
                continue
            result.append(stored)
        return result

    def message(self, message_id: int) -> StoredMessage | None:
        """A stored message by id."""
        return self.state.messages.get(message_id)

    def component_id(self, message_id: int, key: str) -> str:
        """The custom_id the message shows for `key` (see `StoredMessage.component_id`).

        Raises:
            KeyError: No such message, or no such component on it.
        """
        stored = self.state.messages.get(message_id)
        if stored is None:
            raise KeyError(f"no message {message_id}")
        return stored.component_id(key)

    def attachment_bytes(self, attachment: Payload) -> bytes:
        """The uploaded content of an attachment object of a stored message."""
        return self.attachments.blobs[int(attachment["id"])]

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[StoredMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        include_ephemeral: bool = False,
    ) -> StoredMessage:
        """Wait until a message in the channel matches `predicate` (re-checked after edits).

        Raises:
            TimeoutError: Nothing matched in time.
        """
        check = predicate or (lambda m: m.author_id == self.bot_user.id)
        return await self.state.signal.wait_for(
            lambda: next(
                (
                    m
                    for m in self.messages_in(channel_id, include_ephemeral=include_ephemeral)
                    if check(m)
                ),
                None,
            ),
            timeout,
            f"a matching message in channel {channel_id}",
        )

    def reactions_on(self, message_id: int) -> dict[str, list[int]]:
        """Emoji -> ids of users who reacted (custom emoji as `name:id`)."""
        result: dict[str, list[int]] = {}
        for key, user_id in self.state.reactions.get(message_id, []):
            result.setdefault(key, []).append(user_id)
        return result

    async def wait_for_reaction(
        self,
        message_id: int,
        emoji: str,
        user_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until `emoji` is on the message (from `user_id`, the bot by default)."""
        key = emoji_parts(emoji)[0]
        who = user_id or self.bot_user.id
        await self.state.signal.wait_for(
            lambda: True if who in self.reactions_on(message_id).get(key, []) else None,
            timeout,
            f"reaction {emoji} on {message_id}",
        )

    def dm_channel_id(self, user: FakeUser) -> int:
        """Id of the DM channel with `user` (opened if needed)."""
        return int(self.state.open_dm(user)["id"])

    def dms_to(self, user_id: int) -> list[StoredMessage]:
        """Messages the bot sent in its DM channel with `user_id`."""
        channel_id = self.state.dm_channels.get(user_id)
        if channel_id is None:
            return []
        return [m for m in self.messages_in(channel_id) if m.author_id == self.bot_user.id]

    def threads_in(self, channel_id: int) -> list[Payload]:
        """Threads created under a channel."""
        return [
            c
            for c in self.state.channels.values()
            if c["type"] in THREAD_TYPES and int(c["parent_id"]) == channel_id
        ]

    @property
    def registered_commands(self) -> list[Payload]:
        """Every synced application command; guild commands carry `guild_id`."""
        return [c for commands in self.state.commands.values() for c in commands]

    @property
    def interactions(self) -> list[FakeInteraction]:
        """Interactions dispatched so far, oldest first."""
        return list(self.state.interactions.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST call, in order."""
        return self.state.requests

    def requests_matching(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        """REST calls with `method` whose path matches the regex `path_pattern`."""
        pattern = re.compile(path_pattern)
        return [r for r in self.state.requests if r.method == method and pattern.search(r.path)]

    @property
    def unknown_routes(self) -> list[RecordedRequest]:
        """REST calls the fake had no route for (answered 404)."""
        return self.state.unknown_routes

    @property
    def mention_checks(self) -> list[MentionCheck]:
        """allowed_mentions and would-be pings of every message the bot sent or edited."""
        return self.state.mention_checks

    @property
    def pings(self) -> list[MentionCheck]:
        """Sent messages that would have notified someone."""
        return [c for c in self.state.mention_checks if c.pinged]

    def clear_records(self) -> None:
        """Forget recorded requests, unknown routes and mention checks (state is kept)."""
        self.state.requests.clear()
        self.state.unknown_routes.clear()
        self.state.mention_checks.clear()

    def assert_never_pinged(self) -> None:
        """Raise AssertionError if any message the bot sent could have pinged anyone."""
        if self.pings:
            details = "; ".join(f"{c.method} {c.path}: {c.pings}" for c in self.pings)
            raise AssertionError(f"bot messages would have pinged: {details}")
