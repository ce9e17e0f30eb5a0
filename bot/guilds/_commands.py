"""Slash-command registration: per home guild, only when the definitions changed, never fatal.

The payload discord.py would send for the command tree is hashed and the hash stored per
scope (`<application id>:guild:<guild id>` or `<application id>:global`). A start whose
commands are unchanged sends nothing, so a crash loop cannot exhaust Discord's rate limit
on registration. Scopes that should have no commands (global commands of an earlier
release, a guild that is no longer home) are emptied once. A failed registration is logged
and tried again in the background with growing delays.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from typing import Any

import discord
from discord.ext import commands

from bot.guilds._home import HomeGuilds
from storage.command_sync import CommandSyncRepository

log = logging.getLogger(__name__)

#: Seconds between attempts after a failed registration (the last one repeats).
RETRY_DELAYS: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0)
#: Answers that mean the bot cannot have commands in that scope any more.
_GONE = (403, 404)

Payload = list[dict[str, Any]]


def command_payload(tree: discord.app_commands.CommandTree[Any]) -> Payload:
    """The tree's global commands as Discord receives them, in a stable order."""
    payload = [command.to_dict(tree) for command in tree.get_commands()]
    return sorted(payload, key=lambda c: (int(c.get("type", 1)), str(c.get("name"))))


def payload_hash(payload: Payload) -> str:
    """SHA-256 of the payload's canonical JSON."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class CommandSync:
    """Keeps the registered slash commands equal to the bot's command tree."""

    def __init__(
        self,
        bot: commands.Bot | commands.AutoShardedBot,
        repository: CommandSyncRepository,
        home: HomeGuilds,
        *,
        global_commands: bool,
    ) -> None:
        self.bot = bot
        self.repository = repository
        self.home = home
        self.global_commands = global_commands
        self._retrying: asyncio.Task[None] | None = None

    def _plan(self, prefix: str, stored: dict[str, str]) -> dict[str, tuple[int | None, Payload]]:
        """Scope -> (guild id or None for global, the payload it should have)."""
        payload = command_payload(self.bot.tree)
        plan: dict[str, tuple[int | None, Payload]] = {
            f"{prefix}global": (None, payload if self.global_commands else [])
        }
        for guild_id in sorted(self.home.ids):
            plan[f"{prefix}guild:{guild_id}"] = (guild_id, [] if self.global_commands else payload)
        for scope in stored:
            if scope not in plan and scope.startswith(f"{prefix}guild:"):
                plan[scope] = (int(scope.rsplit(":", 1)[1]), [])
        return plan

    async def run(self) -> bool:
        """Register what changed since the last run; True when every scope is up to date."""
        app_id = self.bot.application_id
        if app_id is None or not self.home.settled:
            return False
        prefix = f"{app_id}:"
        try:
            stored = await self.repository.hashes(prefix=prefix)
        except Exception:
            log.warning("could not read which slash commands are registered", exc_info=True)
            return False
        in_sync = True
        for scope, (guild_id, payload) in self._plan(prefix, stored).items():
            digest = payload_hash(payload)
            if stored.get(scope) == digest:
                continue
            try:
                await self._register(app_id, guild_id, payload, known=scope in stored)
                await self.repository.record(
                    scope=scope, payload_hash=digest, commands=len(payload)
                )
            except Exception as exc:
                where = "globally" if guild_id is None else f"in server {guild_id}"
                log.warning(
                    "registering slash commands %s failed (%s); trying again later", where, exc
                )
                in_sync = False
        return in_sync

    async def _register(
        self, app_id: int, guild_id: int | None, payload: Payload, *, known: bool
    ) -> None:
        http = self.bot.http
        where = "globally" if guild_id is None else f"in server {guild_id}"
        try:
            if not payload and not known:
                current = (
                    await http.get_global_commands(app_id)
                    if guild_id is None
                    else await http.get_guild_commands(app_id, guild_id)
                )
                if not current:
                    return
            if guild_id is None:
                await http.bulk_upsert_global_commands(app_id, payload=payload)
            else:
                await http.bulk_upsert_guild_commands(app_id, guild_id, payload=payload)
        except discord.HTTPException as exc:
            if payload or exc.status not in _GONE:
                raise
            log.info("no access %s any more; nothing to remove there", where)
            return
        log.info("registered %d slash command(s) %s", len(payload), where)

    async def ensure(self) -> None:
        """Register now; after a failure keep trying in the background."""
        if await self.run():
            return
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._retry())

    async def _retry(self) -> None:
        attempt = 0
        while True:
            await asyncio.sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)])
            attempt += 1
            if await self.run():
                log.info("slash commands registered after %d more attempt(s)", attempt)
                return

    def close(self) -> None:
        """Stop retrying."""
        if self._retrying is not None:
            self._retrying.cancel()
