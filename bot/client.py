"""The Discord client: loads every cog, points discord.py at the configured endpoints."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from typing import Any

import discord
import yarl
from discord.ext import commands

import cogs
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger(__name__)

DISCORD_API_DEFAULT = "https://discord.com/api/v10"


def apply_endpoint_overrides(settings: Settings) -> None:
    """Send REST and gateway traffic to DISCORD_API_BASE / DISCORD_GATEWAY_URL when set."""
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = settings.discord.api_base or DISCORD_API_DEFAULT
    if settings.discord.gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord.gateway_url)


def intents() -> discord.Intents:
    """Messages with their content, reactions and guilds; no privileged member list."""
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
            **options,
        )
        self.settings = settings
        self.services = services
        self.ready_once = asyncio.Event()
        if d.gateway_url:
            self._pin_gateway(d.gateway_url)
        self._guard_event_parsers()

    def _guard_event_parsers(self) -> None:
        """A gateway event discord.py cannot parse is logged and skipped, not fatal.

        Without this, one malformed payload (an interaction without `data`, say) raises out
        of the shard's event loop and ends the whole session.
        """
        parsers = self._connection.parsers
        for event, parse in list(parsers.items()):
            parsers[event] = _skip_malformed(event, parse)

    def _pin_gateway(self, gateway_url: str) -> None:
        original = self.http.get_bot_gateway

        async def get_bot_gateway() -> Any:
            shards, _url, limits = await original()
            return shards, gateway_url, limits

        self.http.get_bot_gateway = get_bot_gateway  # type: ignore[method-assign]

    async def setup_hook(self) -> None:
        """Load every cog package, then register slash commands."""
        for module in pkgutil.iter_modules(cogs.__path__):
            if module.name.startswith("_"):
                continue
            name = f"{cogs.__name__}.{module.name}"
            if hasattr(importlib.import_module(name), "setup"):
                await self.load_extension(name)
        await self.tree.sync()

    async def on_ready(self) -> None:
        """Once per process: resume every unfinished item."""
        if self.ready_once.is_set():
            return
        self.ready_once.set()
        log.info("connected as %s to %d guild(s)", self.user, len(self.guilds))
        self.dispatch("iterateswarm_ready")

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        """Log handler errors without taking the process down."""
        log.exception("error in %s", event_method)
