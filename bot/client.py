"""The Discord client: loads every cog, points discord.py at the configured endpoints.

It serves its home guilds only (`bot.guilds`): the guild of REVIEW_CHANNEL_ID or
ALLOWED_GUILD_IDS is settled before the gateway connects, events from other guilds are
dropped before they are parsed, and slash commands are registered per home guild when they
changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import itertools
import logging
import pkgutil
from typing import Any

import discord
import yarl
from discord.ext import commands

import cogs
from bot.guilds import claim_from_guild, resolve_home_guilds
from bot.guilds._commands import CommandSync
from bot.guilds._directory import GuildDirectory
from bot.guilds._gate import GuildGate
from bot.intents import fall_back_without_message_content
from bot.services import Services
from bot.settings import Settings
from storage.command_sync import CommandSyncRepository

log = logging.getLogger(__name__)

DISCORD_API_DEFAULT = "https://discord.com/api/v10"
#: Seconds between lookups of the home guild when Discord did not answer (the last repeats).
HOME_RETRY_DELAYS = (5.0, 15.0, 60.0, 300.0)


def apply_endpoint_overrides(settings: Settings) -> None:
    """Send REST and gateway traffic to DISCORD_API_BASE / DISCORD_GATEWAY_URL when set."""
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = settings.discord.api_base or DISCORD_API_DEFAULT
    if settings.discord.gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord.gateway_url)


def intents() -> discord.Intents:
    """Messages with their content, reactions and guilds; no privileged member list.

    Without Message Content (refused by Discord) the bot goes on with the rest (`bot.intents`).
    """
    wanted = discord.Intents.default()
    wanted.message_content = True
    wanted.members = False
    wanted.presences = False
    return wanted


def _skip_malformed(event: str, parse: Any) -> Any:
    def parse_or_skip(data: Any) -> None:
        try:
            parse(data)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError):
            log.warning("skipped a malformed %s event from the gateway", event, exc_info=True)

    return parse_or_skip


class IterateSwarmBot(commands.AutoShardedBot):
    """AutoShardedBot that owns the services and finds its cogs by walking `cogs/`."""

    def __init__(self, settings: Settings, services: Services, **options: Any) -> None:
        d = settings.discord
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            shard_count=d.shard_count,
            shard_ids=d.shard_ids or None,
            help_command=None,
            max_messages=None,  # listeners read raw events; cached messages only hold memory
            **options,
        )
        self.settings = settings
        self.services = services
        self.ready_once = asyncio.Event()
        self.home_guilds = services.home_guilds
        self.home_guilds.hold()
        self.directory = GuildDirectory(self, self.home_guilds)
        self.gate = GuildGate(
            self,
            self.home_guilds,
            leave_unknown=d.leave_unknown_guilds,
            on_guild_create=self._claim_home,
        )
        self._home_claimed = asyncio.Event()
        self.command_sync = CommandSync(
            self,
            CommandSyncRepository(services.db),
            self.home_guilds,
            global_commands=d.commands_global,
        )
        self._settling: asyncio.Task[None] | None = None
        if d.gateway_url:
            self._pin_gateway(d.gateway_url)
        self._guard_event_parsers()

    def _guard_event_parsers(self) -> None:
        """Events from other guilds are dropped; one discord.py cannot parse is logged and skipped.

        Without the second, one malformed payload (an interaction without `data`, say) raises
        out of the shard's event loop and ends the whole session.
        """
        parsers = self._connection.parsers
        for event, parse in list(parsers.items()):
            parsers[event] = _skip_malformed(event, self.gate.wrap(event, parse))

    def _pin_gateway(self, gateway_url: str) -> None:
        original = self.http.get_bot_gateway

        async def get_bot_gateway() -> Any:
            shards, _url, limits = await original()
            return shards, gateway_url, limits

        self.http.get_bot_gateway = get_bot_gateway  # type: ignore[method-assign]

    async def _async_setup_hook(self) -> None:
        """discord.py's asyncio set-up, then the fallback for a refused Message Content intent
        (unless MESSAGE_CONTENT_REQUIRED)."""
        await super()._async_setup_hook()
        if not self.services.settings.discord.message_content_required:
            fall_back_without_message_content(self)

    async def setup_hook(self) -> None:
        """Settle the home guilds, load every cog package, then register slash commands."""
        if not await resolve_home_guilds(self.home_guilds, self.settings.discord, self._guild_of):
            self._settling = asyncio.get_running_loop().create_task(self._settle_later())
        for module in pkgutil.iter_modules(cogs.__path__):
            if module.name.startswith("_"):
                continue
            name = f"{cogs.__name__}.{module.name}"
            if hasattr(importlib.import_module(name), "setup"):
                await self.load_extension(name)
        await self.command_sync.ensure()

    async def _guild_of(self, channel_id: int) -> int | None:
        """The guild of a channel through REST; `LookupError` when there is no such channel."""
        try:
            data = await self.http.get_channel(channel_id)
        except (discord.NotFound, discord.Forbidden) as exc:
            raise LookupError(channel_id) from exc
        raw = data.get("guild_id")
        return int(str(raw)) if raw is not None else None

    def _claim_home(self, guild: Any) -> None:
        """A GUILD_CREATE holding REVIEW_CHANNEL_ID settles the home guild if REST has not."""
        if claim_from_guild(self.home_guilds, self.settings.discord, guild):
            self._home_claimed.set()

    async def _settle_later(self) -> None:
        """Look the home guild up again until Discord answers (or the gateway tells first);
        then catch up on the commands and the guilds to leave."""
        for delay in itertools.chain(HOME_RETRY_DELAYS, itertools.repeat(HOME_RETRY_DELAYS[-1])):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._home_claimed.wait(), delay)
            if self.home_guilds.settled:
                break
            if await resolve_home_guilds(self.home_guilds, self.settings.discord, self._guild_of):
                break
        await self.command_sync.ensure()
        if self.ready_once.is_set():
            await self.gate.leave_unknown(self.guilds)

    async def on_ready(self) -> None:
        """Once per process: resume every unfinished item; leave guilds that are not home."""
        if self.ready_once.is_set():
            return
        self.ready_once.set()
        log.info("connected as %s to %d guild(s)", self.user, len(self.guilds))
        self.dispatch("iterateswarm_ready")
        await self.gate.leave_unknown(self.guilds)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Added to a guild: leave it at once unless it is home."""
        if not self.home_guilds.allows(guild.id):
            log.warning("added to server %s (%r), which is not a home server", guild.id, guild.name)
        await self.gate.leave_unknown([guild])

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """A guild back after an outage: leave it unless it is home."""
        await self.gate.leave_unknown([guild])

    async def close(self) -> None:
        """Stop the background registration and lookups, then disconnect."""
        self.command_sync.close()
        self.gate.close()
        if self._settling is not None:
            self._settling.cancel()
        await super().close()

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """Log handler errors without taking the process down."""
        log.exception("error in %s", event_method)
