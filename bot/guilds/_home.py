"""Which guilds the bot serves: ALLOWED_GUILD_IDS, or the guild that owns REVIEW_CHANNEL_ID."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from bot.settings import DiscordSettings

log = logging.getLogger(__name__)

#: Looks up the guild of a channel; raises `LookupError` when the channel does not exist or
#: the bot cannot see it, any other exception when Discord did not answer.
ChannelGuildLookup = Callable[[int], Awaitable[int | None]]


class HomeGuilds:
    """The guilds the bot works in.

    Until `hold` is called every guild is allowed: CLI tools that never talk to Discord
    handle items of any guild. The bot holds at start, so it serves nobody until `settle`
    names its home guilds (and nobody at all if they cannot be determined).
    """

    def __init__(self) -> None:
        self._ids: frozenset[int] | None = None
        self.settled = False

    @property
    def ids(self) -> frozenset[int]:
        """The home guilds (empty while held or when none could be determined)."""
        return self._ids or frozenset()

    def allows(self, guild_id: int | None) -> bool:
        """Whether the bot works for `guild_id` (None, a DM or the CLI, is not a guild matter)."""
        if guild_id is None or self._ids is None:
            return True
        return guild_id in self._ids

    def hold(self) -> None:
        """Serve no guild until `settle`."""
        self._ids = frozenset()
        self.settled = False

    def settle(self, ids: Iterable[int]) -> None:
        """Serve exactly these guilds from now on."""
        self._ids = frozenset(ids)
        self.settled = True


async def resolve_home_guilds(
    home: HomeGuilds, settings: DiscordSettings, lookup: ChannelGuildLookup
) -> bool:
    """Settle the home guilds from the settings (one attempt).

    Args:
        home: What to settle.
        settings: ALLOWED_GUILD_IDS, else REVIEW_CHANNEL_ID whose guild is looked up.
        lookup: The guild of a channel, through Discord's REST API.

    Returns:
        False when Discord did not answer the lookup; the caller tries again later.
    """
    if settings.allowed_guild_ids:
        home.settle(settings.allowed_guild_ids)
        log.info("home servers (ALLOWED_GUILD_IDS): %s", sorted(home.ids))
        return True
    channel_id = settings.review_channel_id
    if channel_id is None:
        home.settle(())
        log.error(
            "no home server: set ALLOWED_GUILD_IDS or REVIEW_CHANNEL_ID; the bot works nowhere"
        )
        return True
    try:
        guild_id = await lookup(channel_id)
    except LookupError:
        guild_id = None
    except Exception as exc:
        log.warning("could not look up the server of REVIEW_CHANNEL_ID (%s); trying again", exc)
        return False
    if guild_id is None:
        home.settle(())
        log.error(
            "REVIEW_CHANNEL_ID %s is not a server channel the bot can see, so it has no home "
            "server and works nowhere; fix it or set ALLOWED_GUILD_IDS",
            channel_id,
        )
        return True
    home.settle({guild_id})
    log.info("home server: %s (the server of REVIEW_CHANNEL_ID)", guild_id)
    return True


def claim_from_guild(home: HomeGuilds, settings: DiscordSettings, guild: Any) -> bool:
    """Settle on the guild of a GUILD_CREATE payload that holds REVIEW_CHANNEL_ID.

    While the REST lookup has not answered, the gateway's own description of a guild is
    as good an answer, and it arrives before any message of that guild.

    Returns:
        True when this payload settled the home guilds.
    """
    channel_id = settings.review_channel_id
    if home.settled or settings.allowed_guild_ids or channel_id is None:
        return False
    if not isinstance(guild, dict) or guild.get("id") is None:
        return False
    channels = [*(guild.get("channels") or []), *(guild.get("threads") or [])]
    if not any(str(c.get("id")) == str(channel_id) for c in channels if isinstance(c, dict)):
        return False
    home.settle({int(str(guild["id"]))})
    log.info("home server: %s (holds REVIEW_CHANNEL_ID, seen on the gateway)", guild["id"])
    return True
