"""Which guild a channel or role belongs to, and where the bot may send on a guild's behalf."""

from __future__ import annotations

import logging
from collections import OrderedDict

import discord

from bot.guilds._home import HomeGuilds

log = logging.getLogger(__name__)

#: Channels whose guild is remembered (a channel never moves to another guild).
_REMEMBERED_CHANNELS = 4096


class GuildDirectory:
    """Answers from the gateway cache first, then from the REST API (remembered)."""

    def __init__(self, client: discord.Client, home: HomeGuilds) -> None:
        self.client = client
        self.home = home
        self._channel_guilds: OrderedDict[int, int | None] = OrderedDict()

    async def channel_guild(self, channel_id: int) -> int | None:
        """The guild of a channel or thread; None for a DM or a channel the bot cannot see.

        Raises:
            discord.HTTPException: Discord did not answer (anything but not found or forbidden).
        """
        cached = self.client.get_channel(channel_id)
        if cached is not None:
            guild = getattr(cached, "guild", None)
            return guild.id if guild is not None else None
        if channel_id in self._channel_guilds:
            self._channel_guilds.move_to_end(channel_id)
            return self._channel_guilds[channel_id]
        try:
            data = await self.client.http.get_channel(channel_id)
        except (discord.NotFound, discord.Forbidden):
            return None
        raw = data.get("guild_id")
        guild_id = int(str(raw)) if raw is not None else None
        self._channel_guilds[channel_id] = guild_id
        while len(self._channel_guilds) > _REMEMBERED_CHANNELS:
            self._channel_guilds.popitem(last=False)
        return guild_id

    async def channel_in_guild(self, guild_id: int, channel_id: int) -> bool:
        """Whether the channel (or thread) belongs to the guild."""
        return await self.channel_guild(channel_id) == guild_id

    async def role_in_guild(self, guild_id: int, role_id: int) -> bool:
        """Whether the role belongs to the guild."""
        guild = self.client.get_guild(guild_id)
        if guild is not None and guild.get_role(role_id) is not None:
            return True
        try:
            roles = await self.client.http.get_roles(guild_id)
        except (discord.NotFound, discord.Forbidden):
            return False
        return any(int(role["id"]) == role_id for role in roles)

    async def may_post(self, guild_id: int | None, channel_id: int) -> bool:
        """Whether the bot may send in `channel_id` for `guild_id`: a home guild's own channel.

        Checked before every review, reminder, digest and reply, so a channel setting that
        points into another guild never carries one guild's content there.
        """
        if guild_id is None or not self.home.allows(guild_id):
            log.warning(
                "not sending in channel %s for server %s: not a home server", channel_id, guild_id
            )
            return False
        try:
            owner = await self.channel_guild(channel_id)
        except discord.HTTPException as exc:
            log.warning("could not check channel %s (%s); not sending there now", channel_id, exc)
            return False
        if owner != guild_id:
            log.warning(
                "channel %s is not a channel of server %s; nothing of that server is sent "
                "there (check its /config channels)",
                channel_id,
                guild_id,
            )
            return False
        return True

    def may_message_reporter(self, guild_id: int | None) -> bool:
        """Whether a direct message about an item of `guild_id` may be sent (home guilds only)."""
        return guild_id is not None and self.home.allows(guild_id)
