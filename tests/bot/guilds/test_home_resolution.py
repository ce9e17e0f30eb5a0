"""Settling the home guilds: the allowlist, the review channel's guild, and lookups that fail."""

from __future__ import annotations

from typing import Any

import pytest

from bot.guilds import HomeGuilds, claim_from_guild, resolve_home_guilds
from bot.settings import DiscordSettings

REVIEW_CHANNEL = 555


def _settings(**values: object) -> DiscordSettings:
    return DiscordSettings(_env_file=None, **values)  # type: ignore[call-arg]


def _lookup_answers(guild_id: int | None) -> Any:
    async def lookup(channel_id: int) -> int | None:
        assert channel_id == REVIEW_CHANNEL
        return guild_id

    return lookup


def test_before_the_bot_holds_every_guild_is_allowed() -> None:
    home = HomeGuilds()
    assert home.allows(1) and home.allows(None) and not home.settled
    home.hold()
    assert not home.allows(1) and home.allows(None) and home.ids == frozenset()


async def test_the_allowlist_wins_without_a_lookup() -> None:
    async def lookup(channel_id: int) -> int | None:
        raise AssertionError("no lookup expected")

    home = HomeGuilds()
    settings = _settings(ALLOWED_GUILD_IDS="1,2", REVIEW_CHANNEL_ID=str(REVIEW_CHANNEL))
    assert await resolve_home_guilds(home, settings, lookup)
    assert home.settled and home.ids == {1, 2} and not home.allows(3)


async def test_the_review_channels_guild_is_home() -> None:
    home = HomeGuilds()
    home.hold()
    lookup = _lookup_answers(42)
    assert await resolve_home_guilds(home, _settings(REVIEW_CHANNEL_ID="555"), lookup)
    assert home.ids == {42}


@pytest.mark.parametrize("answer", ["missing", "dm", "nothing configured"])
async def test_no_home_guild_means_none_is_served(answer: str) -> None:
    async def lookup(channel_id: int) -> int | None:
        if answer == "missing":
            raise LookupError(channel_id)
        return None

    home = HomeGuilds()
    home.hold()
    settings = _settings() if answer == "nothing configured" else _settings(REVIEW_CHANNEL_ID="555")
    assert await resolve_home_guilds(home, settings, lookup)
    assert home.settled and home.ids == frozenset() and not home.allows(42)


async def test_a_lookup_without_answer_is_tried_again_later() -> None:
    async def lookup(channel_id: int) -> int | None:
        raise ConnectionError("Discord did not answer")

    home = HomeGuilds()
    home.hold()
    assert not await resolve_home_guilds(home, _settings(REVIEW_CHANNEL_ID="555"), lookup)
    assert not home.settled and not home.allows(42)


def test_a_guild_holding_the_review_channel_is_claimed_until_settled() -> None:
    home = HomeGuilds()
    home.hold()
    settings = _settings(REVIEW_CHANNEL_ID=str(REVIEW_CHANNEL))
    other = {"id": "7", "channels": [{"id": "1"}], "threads": []}
    holder = {"id": "8", "channels": [{"id": "2"}], "threads": [{"id": str(REVIEW_CHANNEL)}]}
    assert not claim_from_guild(home, settings, other) and not home.settled
    assert not claim_from_guild(home, settings, {"unavailable": True})
    assert claim_from_guild(home, settings, holder) and home.ids == {8}
    assert not claim_from_guild(home, settings, {"id": "9", "channels": [{"id": "555"}]})
    assert home.ids == {8}
    allowlisted = _settings(ALLOWED_GUILD_IDS="1", REVIEW_CHANNEL_ID=str(REVIEW_CHANNEL))
    fresh = HomeGuilds()
    fresh.hold()
    assert not claim_from_guild(fresh, allowlisted, holder) and not fresh.settled
