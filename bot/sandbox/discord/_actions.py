"""What simulated users do: post, react, click, submit modals and run application commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.sandbox.discord._attachments import AttachmentStore, FakeFile
from bot.sandbox.discord._gateway import GatewayHub
from bot.sandbox.discord._interaction_records import FakeInteraction
from bot.sandbox.discord._interactions import (
    command_data,
    interaction_payload,
    modal_submit_components,
)
from bot.sandbox.discord._models import FakeUser, Payload, StoredMessage
from bot.sandbox.discord._payloads import member_payload
from bot.sandbox.discord._rest import guild_id_of
from bot.sandbox.discord._state import DiscordState, emoji_parts

APPLICATION_COMMAND, MESSAGE_COMPONENT, MODAL_SUBMIT = 2, 3, 5
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3


class UserActions:
    """Driver methods that make simulated users act; each one dispatches gateway events."""

    state: DiscordState
    hub: GatewayHub
    attachments: AttachmentStore
    feedback_channel_id: int

    def _channel(self, channel_id: int) -> Payload:
        channel = self.state.channels.get(channel_id)
        if channel is None:
            raise KeyError(f"unknown channel {channel_id}")
        return channel

    def _message(self, message_id: int) -> StoredMessage:
        stored = self.state.messages.get(message_id)
        if stored is None or stored.deleted:
            raise KeyError(f"unknown message {message_id}")
        return stored

    async def post_message(
        self,
        channel_id: int,
        author: FakeUser,
        content: str = "",
        *,
        embeds: Iterable[Payload] = (),
        reply_to: int | None = None,
        mentions: Iterable[FakeUser] = (),
        mention_roles: Iterable[int] = (),
        files: Iterable[FakeFile] = (),
    ) -> Payload:
        """Post a message as `author`, store it and dispatch MESSAGE_CREATE.

        Mentions written in `content` (`<@id>`, `<@&id>`, `@everyone`) are parsed as Discord
        does; `mentions` and `mention_roles` add more.

        Args:
            channel_id: Channel, thread or DM channel to post in.
            author: The simulated user.
            content: Message text.
            embeds: Embeds on the message.
            reply_to: Message id this message replies to.
            mentions: Extra mentioned users.
            mention_roles: Extra mentioned role ids.
            files: Files attached to it; the fake's CDN serves their bytes at each `url`.

        Returns:
            The message payload as dispatched.
        """
        channel = self._channel(channel_id)
        body: Payload = {
            "content": content,
            "embeds": list(embeds),
            "attachments": self.attachments.payloads(channel_id, files),
        }
        if reply_to is not None:
            body["message_reference"] = {"message_id": reply_to, "channel_id": channel_id}
        payload = self.state.build_message(channel, author, body)
        known = {m["id"] for m in payload["mentions"]}
        payload["mentions"] += [u.payload() for u in mentions if str(u.id) not in known]
        payload["mention_roles"] += [str(r) for r in mention_roles]
        stored = self.state.store_message(payload)
        await self.hub.dispatch("MESSAGE_CREATE", stored.snapshot(), guild_id=guild_id_of(channel))
        return stored.snapshot()

    async def edit_user_message(self, message_id: int, content: str) -> Payload:
        """Edit a simulated user's message and dispatch MESSAGE_UPDATE."""
        stored = self._message(message_id)
        self.state.edit_message(stored, {"content": content})
        channel = self.state.channels.get(stored.channel_id)
        view = self.state.message_view(stored)
        await self.hub.dispatch("MESSAGE_UPDATE", view, guild_id=guild_id_of(channel))
        return view

    async def delete_user_message(self, message_id: int) -> None:
        """Delete a message as its author or a moderator and dispatch MESSAGE_DELETE."""
        stored = self._message(message_id)
        stored.deleted = True
        channel = self.state.channels.get(stored.channel_id)
        guild_id = guild_id_of(channel)
        event: Payload = {"id": str(stored.id), "channel_id": str(stored.channel_id)}
        if guild_id is not None:
            event["guild_id"] = str(guild_id)
        self.state.changed()
        await self.hub.dispatch("MESSAGE_DELETE", event, guild_id=guild_id)

    async def add_reaction(
        self, channel_id: int, message_id: int, user: FakeUser, emoji: str
    ) -> None:
        """React as `user` and dispatch MESSAGE_REACTION_ADD (with member and roles in guilds)."""
        stored = self._message(message_id)
        if stored.channel_id != channel_id:
            raise KeyError(f"message {message_id} is not in channel {channel_id}")
        key, emoji_object = emoji_parts(emoji)
        entries = self.state.reactions.setdefault(message_id, [])
        if (key, user.id) in entries:
            return
        entries.append((key, user.id))
        self.state.changed()
        guild_id, event = self._reaction_event(channel_id, message_id, user, emoji_object)
        event["message_author_id"] = str(stored.author_id)
        if guild_id is not None:
            event["member"] = member_payload(self.state.guilds[guild_id], user)
        await self.hub.dispatch("MESSAGE_REACTION_ADD", event, guild_id=guild_id)

    async def remove_reaction(
        self, channel_id: int, message_id: int, user: FakeUser, emoji: str
    ) -> None:
        """Remove `user`'s reaction and dispatch MESSAGE_REACTION_REMOVE."""
        key, emoji_object = emoji_parts(emoji)
        entries = self.state.reactions.get(message_id, [])
        if (key, user.id) not in entries:
            return
        entries.remove((key, user.id))
        self.state.changed()
        guild_id, event = self._reaction_event(channel_id, message_id, user, emoji_object)
        await self.hub.dispatch("MESSAGE_REACTION_REMOVE", event, guild_id=guild_id)

    def _reaction_event(
        self, channel_id: int, message_id: int, user: FakeUser, emoji_object: Payload
    ) -> tuple[int | None, Payload]:
        """(guild id, the fields both reaction events carry)."""
        guild_id = guild_id_of(self._channel(channel_id))
        event: Payload = {
            "user_id": str(user.id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "emoji": emoji_object,
            "burst": False,
            "type": 0,
        }
        if guild_id is not None:
            event["guild_id"] = str(guild_id)
        return guild_id, event

    async def _interact(
        self,
        kind: int,
        data: Payload,
        user: FakeUser,
        channel: Payload,
        message: StoredMessage | None = None,
    ) -> FakeInteraction:
        payload = interaction_payload(
            self.state,
            kind=kind,
            data=data,
            user=user,
            channel=channel,
            message=self.state.message_view(message) if message is not None else None,
        )
        return await self.raw_interaction(payload)

    async def raw_interaction(self, payload: Payload) -> FakeInteraction:
        """Dispatch INTERACTION_CREATE with `payload` exactly as given (for malformed input).

        The interaction is recorded when the payload has an id and a token, so answers to it
        are captured; otherwise a throwaway record is returned.
        """
        guild_id = payload.get("guild_id")
        interaction = FakeInteraction(
            {"id": payload.get("id", 0), "token": payload.get("token", ""), **payload},
            self.state.signal,
        )
        if payload.get("id") is not None and payload.get("token"):
            self.state.interactions[interaction.id] = interaction
        await self.hub.dispatch(
            "INTERACTION_CREATE", payload, guild_id=int(guild_id) if guild_id else None
        )
        return interaction

    async def click_button(
        self, message_id: int, custom_id: str, user: FakeUser, *, check_exists: bool = True
    ) -> FakeInteraction:
        """Click a button on a message (INTERACTION_CREATE type 3, component_type 2).

        Raises:
            KeyError: The message does not carry `custom_id` (unless `check_exists` is False).
        """
        stored = self._message(message_id)
        if check_exists and custom_id not in stored.custom_ids():
            raise KeyError(f"message {message_id} has no component {custom_id!r}")
        data = {"custom_id": custom_id, "component_type": 2}
        channel = self._channel(stored.channel_id)
        return await self._interact(MESSAGE_COMPONENT, data, user, channel, stored)

    async def select_options(
        self, message_id: int, custom_id: str, values: list[str], user: FakeUser
    ) -> FakeInteraction:
        """Choose `values` in a string select on a message (component_type 3)."""
        stored = self._message(message_id)
        data = {"custom_id": custom_id, "component_type": 3, "values": list(values)}
        channel = self._channel(stored.channel_id)
        return await self._interact(MESSAGE_COMPONENT, data, user, channel, stored)

    def _modal_request(self, custom_id: str) -> tuple[FakeInteraction | None, Payload | None]:
        for interaction in reversed(list(self.state.interactions.values())):
            for response in reversed(interaction.responses):
                if response.type == 9 and response.custom_id == custom_id:
                    return interaction, response.data
        return None, None

    async def submit_modal(
        self,
        custom_id: str,
        fields: Mapping[str, str | list[str]],
        user: FakeUser,
        *,
        message_id: int | None = None,
        channel_id: int | None = None,
    ) -> FakeInteraction:
        """Submit a modal (type 5), mirroring the layout of the modal the bot opened.

        Args:
            custom_id: The modal's custom_id.
            fields: Value per text input custom_id.
            user: Who submits.
            message_id: Message the modal was opened from (a component interaction).
            channel_id: Channel of the submission; defaults to where the modal was opened.
        """
        opener, modal = self._modal_request(custom_id)
        data = {"custom_id": custom_id, "components": modal_submit_components(modal, fields)}
        stored = self._message(message_id) if message_id is not None else None
        if channel_id is None:
            if stored is not None:
                channel_id = stored.channel_id
            elif opener is not None:
                channel_id = int(opener.payload["channel_id"])
            else:
                channel_id = self.feedback_channel_id
        return await self._interact(MODAL_SUBMIT, data, user, self._channel(channel_id), stored)

    async def slash_command(
        self,
        name: str,
        options: Mapping[str, Any] | None,
        user: FakeUser,
        channel_id: int | None = None,
    ) -> FakeInteraction:
        """Invoke a registered slash command; `name` may include subcommands ("cfg show").

        Raises:
            LookupError: No such command was synced.
        """
        channel = self._channel(channel_id or self.feedback_channel_id)
        guild = self.state.guild_of(channel)
        top, *path = name.split()
        command = self.state.find_command(top, CHAT_INPUT, guild.id if guild else None)
        if command is None:
            raise LookupError(f"slash command /{top} is not registered")
        data = command_data(self.state, command, path, options or {}, guild)
        return await self._interact(APPLICATION_COMMAND, data, user, channel)

    async def context_menu(
        self, name: str, target_message_id: int, user: FakeUser, *, channel_id: int | None = None
    ) -> FakeInteraction:
        """Run a message context-menu command on a message (data.type 3, resolved.messages)."""
        target = self._message(target_message_id)
        channel = self._channel(channel_id or target.channel_id)
        guild = self.state.guild_of(channel)
        command = self.state.find_command(name, MESSAGE_COMMAND, guild.id if guild else None)
        if command is None:
            raise LookupError(f"message command {name!r} is not registered")
        data: Payload = {
            "id": command["id"],
            "name": name,
            "type": MESSAGE_COMMAND,
            "target_id": str(target.id),
            "resolved": {"messages": {str(target.id): self.state.message_view(target)}},
        }
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._interact(APPLICATION_COMMAND, data, user, channel)

    async def user_context_menu(
        self, name: str, target: FakeUser, user: FakeUser, channel_id: int | None = None
    ) -> FakeInteraction:
        """Run a user context-menu command on `target` (data.type 2)."""
        channel = self._channel(channel_id or self.feedback_channel_id)
        guild = self.state.guild_of(channel)
        command = self.state.find_command(name, USER_COMMAND, guild.id if guild else None)
        if command is None:
            raise LookupError(f"user command {name!r} is not registered")
        resolved: Payload = {"users": {str(target.id): target.payload()}}
        if guild is not None and target.id in guild.members:
            member = member_payload(guild, target, with_user=False, with_permissions=True)
            resolved["members"] = {str(target.id): member}
        data: Payload = {
            "id": command["id"],
            "name": name,
            "type": USER_COMMAND,
            "target_id": str(target.id),
            "resolved": resolved,
        }
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return await self._interact(APPLICATION_COMMAND, data, user, channel)
