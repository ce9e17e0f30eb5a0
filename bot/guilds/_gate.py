"""Turning away everything from guilds that are not home: events, interactions, the guild itself.

Gateway events that could make the bot record or decide something (messages, reactions,
interactions) are dropped before discord.py parses them when they come from another guild;
an interaction there gets one ephemeral line. With LEAVE_UNKNOWN_GUILDS the bot also leaves
such guilds, at start and whenever it is added to one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import discord

from bot.guilds._home import HomeGuilds

log = logging.getLogger(__name__)

NOT_A_HOME_GUILD = "This bot only works in the servers it was set up for, so it does nothing here."
#: Events that carry something the bot could record or act on.
GATED_EVENTS = frozenset(
    {
        "MESSAGE_CREATE",
        "MESSAGE_UPDATE",
        "MESSAGE_DELETE",
        "MESSAGE_DELETE_BULK",
        "MESSAGE_REACTION_ADD",
        "MESSAGE_REACTION_REMOVE",
        "MESSAGE_REACTION_REMOVE_ALL",
        "MESSAGE_REACTION_REMOVE_EMOJI",
        "INTERACTION_CREATE",
    }
)
_AUTOCOMPLETE = 4
_REMEMBERED_GUILDS = 256

Parser = Callable[[Any], None]


def _guild_id(data: Any) -> int | None:
    """The event's guild id; -1 when it is there but unreadable (never a home guild)."""
    raw = data.get("guild_id") if isinstance(data, dict) else None
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return -1


class GuildGate:
    """Filters gateway events by guild and leaves guilds that are not home."""

    def __init__(
        self,
        client: discord.Client,
        home: HomeGuilds,
        *,
        leave_unknown: bool,
        on_guild_create: Parser | None = None,
    ) -> None:
        self.client = client
        self.home = home
        self.leave_unknown_guilds = leave_unknown
        self.on_guild_create = on_guild_create
        self.turned_away = 0
        self._noted: OrderedDict[int, None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def wrap(self, event: str, parse: Parser) -> Parser:
        """`parse`, preceded by the guild check for the events in `GATED_EVENTS`.

        GUILD_CREATE is parsed as it is, then shown to `on_guild_create`.
        """
        if event == "GUILD_CREATE" and self.on_guild_create is not None:
            seen = self.on_guild_create

            def parse_then_show(data: Any) -> None:
                parse(data)
                seen(data)

            return parse_then_show
        if event not in GATED_EVENTS:
            return parse

        def parse_if_home(data: Any) -> None:
            guild_id = _guild_id(data)
            if guild_id is None or self.home.allows(guild_id):
                parse(data)
            else:
                self._turn_away(event, guild_id, data)

        return parse_if_home

    def _turn_away(self, event: str, guild_id: int, data: Any) -> None:
        self.turned_away += 1
        if guild_id not in self._noted:
            self._noted[guild_id] = None
            while len(self._noted) > _REMEMBERED_GUILDS:
                self._noted.popitem(last=False)
            log.info("ignoring events from server %s: not a home server", guild_id)
        if event == "INTERACTION_CREATE":
            task = asyncio.get_running_loop().create_task(self._answer(data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, data: Any) -> None:
        """One ephemeral line (or no suggestions) for an interaction from another guild."""
        try:
            interaction: discord.Interaction[Any] = discord.Interaction(
                data=data, state=self.client._connection
            )
            if interaction.type.value == _AUTOCOMPLETE:
                await interaction.response.autocomplete([])
            else:
                await interaction.response.send_message(
                    NOT_A_HOME_GUILD,
                    ephemeral=True,
                    allowed_mentions=discord.AllowedMentions.none(),
                )
        except (discord.HTTPException, KeyError, TypeError, ValueError, AttributeError) as exc:
            log.info("could not answer an interaction from another server: %s", exc)

    async def leave_unknown(self, guilds: Iterable[discord.Guild]) -> list[int]:
        """Leave every guild in `guilds` that is not home (when LEAVE_UNKNOWN_GUILDS is on).

        Nothing is left while the home guilds are undetermined or empty: a configuration
        mistake must not make the bot leave its own server.
        """
        if not self.leave_unknown_guilds or not self.home.settled or not self.home.ids:
            return []
        left = []
        for guild in list(guilds):
            if self.home.allows(guild.id):
                continue
            try:
                await guild.leave()
            except discord.HTTPException as exc:
                log.warning("could not leave server %s: %s", guild.id, exc)
                continue
            left.append(guild.id)
            log.warning(
                "left server %s (%r): it is not a home server (ALLOWED_GUILD_IDS)",
                guild.id,
                guild.name,
            )
        return left

    def close(self) -> None:
        """Cancel answers still being sent."""
        for task in list(self._tasks):
            task.cancel()
