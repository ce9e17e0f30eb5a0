"""The gateway gate: which events reach discord.py's parsers."""

from __future__ import annotations

from typing import Any

from bot.guilds import HomeGuilds
from bot.guilds._gate import GuildGate

HOME, OTHER = 10, 20


def _gate() -> tuple[GuildGate, HomeGuilds]:
    home = HomeGuilds()
    home.settle({HOME})
    return GuildGate(client=None, home=home, leave_unknown=True), home  # type: ignore[arg-type]


def test_events_of_home_guilds_and_dms_pass_others_are_dropped() -> None:
    gate, _home = _gate()
    parsed: list[Any] = []
    parse = gate.wrap("MESSAGE_CREATE", parsed.append)
    for data in (
        {"guild_id": str(HOME), "id": "1"},
        {"id": "2"},
        {"guild_id": str(OTHER), "id": "3"},
        {"guild_id": "not-a-number", "id": "4"},
        {"guild_id": None, "id": "5"},
    ):
        parse(data)
    assert [d["id"] for d in parsed] == ["1", "2", "5"]
    assert gate.turned_away == 2


def test_guild_events_themselves_are_not_gated() -> None:
    gate, _home = _gate()
    parsed: list[Any] = []
    gate.wrap("GUILD_CREATE", parsed.append)({"id": str(OTHER)})
    gate.wrap("GUILD_DELETE", parsed.append)({"id": str(OTHER), "guild_id": str(OTHER)})
    assert len(parsed) == 2 and gate.turned_away == 0


async def test_nothing_is_left_while_the_home_guilds_are_unknown() -> None:
    gate, home = _gate()
    home.hold()

    class Guild:
        id = OTHER
        name = "other"

        async def leave(self) -> None:
            raise AssertionError("must not leave")

    assert await gate.leave_unknown([Guild()]) == []  # type: ignore[list-item]
    home.settle(())
    assert await gate.leave_unknown([Guild()]) == []  # type: ignore[list-item]
