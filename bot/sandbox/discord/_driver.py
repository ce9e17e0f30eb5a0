"""FakeDiscord: the loopback Discord server plus the driver API tests and the demo use."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from aiohttp import web

from bot.sandbox._server import LoopbackServer
from bot.sandbox.discord._actions import UserActions
from bot.sandbox.discord._attachments import CDN_ROUTE, AttachmentStore
from bot.sandbox.discord._forums import ForumActions
from bot.sandbox.discord._gateway import INVALID_SESSION, RECONNECT, GatewayHub, GatewaySession
from bot.sandbox.discord._models import (
    FailureRule,
    FakeGuild,
    FakeRole,
    FakeUser,
    Payload,
)
from bot.sandbox.discord._payloads import (
    BOT_PERMISSIONS,
    DEFAULT_MEMBER_PERMISSIONS,
    MAINTAINER_PERMISSIONS,
    guild_create_payload,
    member_payload,
    text_channel_payload,
)
from bot.sandbox.discord._queries import RecordQueries
from bot.sandbox.discord._rest import RestApi
from bot.sandbox.discord._rest_apps import ROUTES as APP_ROUTES
from bot.sandbox.discord._rest_channels import ROUTES as CHANNEL_ROUTES
from bot.sandbox.discord._rest_guilds import ROUTES as GUILD_ROUTES
from bot.sandbox.discord._state import DiscordState

logger = logging.getLogger(__name__)


class FakeDiscord(UserActions, ForumActions, RecordQueries, LoopbackServer):
    """A Discord gateway and REST API on 127.0.0.1 that the real discord.py client talks to.

    One guild is created up front with a feedback channel, a review channel, a Maintainer role,
    an owner and the bot member. Everything the client does is recorded in memory.
    """

    def __init__(
        self,
        *,
        token: str = "fake-discord-bot-token",
        guild_id: int | None = None,
        feedback_channel_id: int | None = None,
        review_channel_id: int | None = None,
        maintainer_role_id: int | None = None,
        bot_user_id: int | None = None,
        application_id: int | None = None,
        guild_name: str = "IterateSwarm Community",
        bot_name: str = "IterateSwarm",
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval_ms: int = 41250,
        recommended_shards: int = 1,
        interaction_deadline: float | None = None,
        message_content_intent: bool = True,
    ) -> None:
        bot_user = FakeUser(id=0, name=bot_name, bot=True)
        self.state = DiscordState(application_id=0, bot_user=bot_user)
        ids = self.state.ids
        bot_user.id = bot_user_id or ids.next()
        self.state.users = {bot_user.id: bot_user}
        self.application_id = application_id or bot_user.id
        self.state.application_id = self.application_id
        self.state.message_content_intent = message_content_intent
        self.token = token
        self.bot_user = bot_user
        self.owner = self._new_user("guild-owner", user_id=None)
        #: Roles the bot had in each guild an admin removed it from (for `add_bot_back`).
        self._removed_bot_roles: dict[int, list[int]] = {}
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        guild = self.add_guild(guild_id=guild_id or ids.next(), name=guild_name, channel_name=None)
        self.guild_id = guild.id
        self.maintainer_role_id = self.add_role(
            "Maintainer", permissions=MAINTAINER_PERMISSIONS, role_id=maintainer_role_id
        ).id
        self.feedback_channel_id = int(
            self.add_text_channel("feedback", channel_id=feedback_channel_id)["id"]
        )
        self.review_channel_id = int(
            self.add_text_channel("maintainer-review", channel_id=review_channel_id)["id"]
        )
        self.attachments = AttachmentStore(ids, lambda: self.url)
        self.hub = GatewayHub(
            self.state,
            token=token,
            heartbeat_interval_ms=heartbeat_interval_ms,
            gateway_url=lambda: self.gateway_url,
        )
        self.rest = RestApi(
            self.state,
            self.hub,
            token=token,
            public_url=lambda: self.url,
            routes=[*CHANNEL_ROUTES, *GUILD_ROUTES, *APP_ROUTES],
            attachments=self.attachments,
            recommended_shards=recommended_shards,
            interaction_deadline=interaction_deadline,
        )

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one)."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self.hub.handle)
        app.router.add_get("/gateway/", self.hub.handle)
        app.router.add_route("*", "/api/{tail:.*}", self.rest.handle)
        app.router.add_get(CDN_ROUTE, self.attachments.serve)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        logger.info("fake Discord listening on %s", self.url)

    async def stop(self) -> None:
        """Close gateway sockets and stop listening."""
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def bot_user_id(self) -> int:
        """The bot's user id."""
        return self.bot_user.id

    @property
    def url(self) -> str:
        """Base HTTP URL, e.g. http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self._port}"

    @property
    def api_base(self) -> str:
        """Value for DISCORD_API_BASE (discord.http.Route.BASE)."""
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Value for DISCORD_GATEWAY_URL (DiscordWebSocket.DEFAULT_GATEWAY)."""
        return f"ws://{self.host}:{self._port}/gateway/"

    def env(self) -> dict[str, str]:
        """Environment variables that point the bot at this fake."""
        return {
            "DISCORD_BOT_TOKEN": self.token,
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
            "FEEDBACK_CHANNEL_IDS": str(self.feedback_channel_id),
            "REVIEW_CHANNEL_ID": str(self.review_channel_id),
            "MAINTAINER_ROLE_IDS": str(self.maintainer_role_id),
        }

    def _new_user(self, name: str, *, user_id: int | None, bot: bool = False) -> FakeUser:
        user = FakeUser(id=user_id or self.state.ids.next(), name=name, bot=bot)
        self.state.users[user.id] = user
        return user

    def _guild(self, guild_id: int | None) -> FakeGuild:
        return self.state.guilds[guild_id or self.guild_id]

    def snowflake_for_shard(self, shard_id: int, shard_count: int) -> int:
        """A fresh id whose guild events go to `shard_id` of `shard_count`."""
        return self.state.ids.for_shard(shard_id, shard_count)

    def add_guild(
        self,
        *,
        guild_id: int | None = None,
        name: str = "Another Guild",
        channel_name: str | None = "general",
        owner: FakeUser | None = None,
    ) -> FakeGuild:
        """Create a guild with @everyone, the bot (and its managed role) and the owner.

        Call before the bot connects; guilds are announced with GUILD_CREATE on IDENTIFY.
        A guild the bot joins later is announced with `announce_guild`.

        Args:
            guild_id: Its id (a fresh snowflake by default).
            name: Its name.
            channel_name: A text channel to create in it (None: none).
            owner: Its owner (default: the owner of the main guild).
        """
        guild_id = guild_id or self.state.ids.next()
        owner = owner or self.owner
        guild = FakeGuild(id=guild_id, name=name, owner_id=owner.id)
        guild.roles[guild_id] = FakeRole(
            id=guild_id, name="@everyone", permissions=DEFAULT_MEMBER_PERMISSIONS
        )
        bot_role = FakeRole(
            id=self.state.ids.next(),
            name=self.bot_user.name,
            permissions=BOT_PERMISSIONS,
            position=2,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = []
        guild.members[self.bot_user.id] = [bot_role.id]
        self.state.guilds[guild_id] = guild
        if channel_name is not None:
            self.add_text_channel(channel_name, guild_id=guild_id)
        return guild

    def add_role(
        self,
        name: str,
        *,
        permissions: int = 0,
        guild_id: int | None = None,
        role_id: int | None = None,
        mentionable: bool = False,
    ) -> FakeRole:
        """Create a role in a guild (the main guild by default)."""
        guild = self._guild(guild_id)
        role = FakeRole(
            id=role_id or self.state.ids.next(),
            name=name,
            permissions=permissions,
            position=len(guild.roles),
            mentionable=mentionable,
        )
        guild.roles[role.id] = role
        return role

    def add_text_channel(
        self, name: str, *, guild_id: int | None = None, channel_id: int | None = None
    ) -> Payload:
        """Create a text channel in a guild (the main guild by default)."""
        guild = self._guild(guild_id)
        position = len(guild.channel_ids)
        channel_id = channel_id or self.state.ids.next()
        channel = text_channel_payload(channel_id, guild.id, name, position)
        return self.state.add_channel(channel)

    def add_user(
        self,
        name: str,
        *,
        roles: Iterable[int | str] = (),
        guild_id: int | None = None,
        bot: bool = False,
        user_id: int | None = None,
    ) -> FakeUser:
        """Create a user who is a member of a guild, with roles given by id or by name.

        Unknown role names are created as plain roles.
        """
        guild = self._guild(guild_id)
        user = self._new_user(name, user_id=user_id, bot=bot)
        role_ids = []
        for role in roles:
            if isinstance(role, str):
                found = guild.role_named(role) or self.add_role(role, guild_id=guild.id)
                role_ids.append(found.id)
            else:
                role_ids.append(int(role))
        guild.members[user.id] = role_ids
        self.state.changed()
        return user

    def add_outsider(self, name: str) -> FakeUser:
        """Create a user who is in no guild (can still receive DMs)."""
        return self._new_user(name, user_id=None)

    async def announce_guild(self, guild_id: int) -> None:
        """Dispatch GUILD_CREATE for a guild the bot was added to while connected.

        Like Discord's event for a join, it carries no `unavailable` flag (that marks a guild
        coming back after an outage).
        """
        guild = self._guild(guild_id)
        payload = guild_create_payload(guild, self.state.guild_channels(guild), self.state.users)
        payload.pop("unavailable", None)
        await self.hub.dispatch("GUILD_CREATE", payload, guild_id=guild.id)

    @property
    def left_guilds(self) -> list[int]:
        """Guilds the bot left (DELETE /users/@me/guilds/{id}), in order."""
        return self.state.left_guilds

    async def announce_member(self, user: FakeUser, *, guild_id: int | None = None) -> None:
        """Dispatch GUILD_MEMBER_ADD for a member added after the bot connected."""
        guild = self._guild(guild_id)
        event = member_payload(guild, user) | {"guild_id": str(guild.id)}
        await self.hub.dispatch("GUILD_MEMBER_ADD", event, guild_id=guild.id)

    async def remove_bot(self, guild_id: int | None = None) -> None:
        """A server admin removes the bot: GUILD_DELETE now, no GUILD_CREATE on IDENTIFY."""
        guild = self._guild(guild_id)
        self._removed_bot_roles[guild.id] = guild.members.pop(self.bot_user.id, [])
        self.state.changed()
        await self.hub.dispatch("GUILD_DELETE", {"id": str(guild.id)}, guild_id=guild.id)

    async def add_bot_back(self, guild_id: int | None = None) -> None:
        """The bot is added to the guild again: GUILD_CREATE (a guild join for the client)."""
        guild = self._guild(guild_id)
        guild.members[self.bot_user.id] = self._removed_bot_roles.pop(guild.id, [])
        self.state.changed()
        payload = guild_create_payload(guild, self.state.guild_channels(guild), self.state.users)
        payload.pop("unavailable", None)  # a join, not a guild back from an outage
        await self.hub.dispatch("GUILD_CREATE", payload, guild_id=guild.id)

    def block_dms(self, user: FakeUser) -> None:
        """Make DMs to `user` fail with 403 / 50007 like a user with closed DMs."""
        self.state.blocked_dm_users.add(user.id)

    def inject_failure(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int = 429,
        count: int = 1,
        retry_after: float = 0.05,
        is_global: bool = False,
        body: Payload | None = None,
        after_effect: bool = False,
    ) -> FailureRule:
        """Make the next `count` matching REST calls fail (429 with retry_after by default).

        Args:
            method: HTTP method, or "*" for any.
            path_pattern: Regex searched in the path after /api/v10, e.g. r"/messages$".
            status: Status to return; 429 replies carry retry_after and a Via header.
            count: How many calls fail.
            retry_after: Seconds the client is told to wait (429 only).
            is_global: Whether the 429 is a global rate limit.
            body: JSON body to return instead of the default.
            after_effect: Let the call take effect and fail only its answer (a response
                lost on the way back).

        Returns:
            The rule; its `hits` counts the calls it failed.
        """
        rule = FailureRule(
            method=method.upper(),
            pattern=re.compile(path_pattern),
            status=status,
            remaining=count,
            retry_after=retry_after,
            is_global=is_global,
            body=body,
            after_effect=after_effect,
        )
        self.state.failures.append(rule)
        return rule

    @property
    def sessions(self) -> list[GatewaySession]:
        """Gateway sessions with an open socket."""
        return self.hub.live_sessions()

    async def wait_for_sessions(self, count: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until `count` gateway sessions are connected and identified."""
        await self.state.signal.wait_for(
            lambda: True if len(self.hub.live_sessions()) >= count else None,
            timeout,
            f"{count} gateway session(s)",
        )

    async def force_reconnect(self) -> None:
        """Send RECONNECT (op 7): clients reconnect and RESUME."""
        await self.hub.send_op(RECONNECT, None)

    async def invalidate_sessions(self) -> None:
        """Send INVALID_SESSION (op 9, not resumable): clients IDENTIFY again."""
        await self.hub.send_op(INVALID_SESSION, False)

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway socket abruptly; sessions stay resumable."""
        await self.hub.drop_connections(code)
