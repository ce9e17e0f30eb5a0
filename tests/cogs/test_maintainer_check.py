"""Who counts as a maintainer, from the member payload an event carries."""

from __future__ import annotations

import discord

from bot.guild_settings import GuildSettings
from cogs._checks import is_maintainer

ROLE = 111111111111111111
OTHER_ROLE = 222222222222222222


def test_maintainer_role_from_payload() -> None:
    settings = GuildSettings(maintainer_role_ids=[ROLE])
    assert is_maintainer({"roles": [str(OTHER_ROLE), str(ROLE)]}, settings)
    assert not is_maintainer({"roles": [str(OTHER_ROLE)]}, settings)
    assert not is_maintainer({"roles": []}, settings)


def test_manage_server_or_administrator_permission() -> None:
    settings = GuildSettings(maintainer_role_ids=[ROLE])
    manage_guild = discord.Permissions(manage_guild=True).value
    administrator = discord.Permissions(administrator=True).value
    everyday = discord.Permissions(send_messages=True, manage_messages=True).value
    assert is_maintainer({"roles": [], "permissions": str(manage_guild)}, settings)
    assert is_maintainer({"roles": [], "permissions": str(administrator)}, settings)
    assert not is_maintainer({"roles": [], "permissions": str(everyday)}, settings)


def test_no_roles_configured_means_only_manage_server() -> None:
    settings = GuildSettings()
    assert not is_maintainer({"roles": [str(ROLE)]}, settings)
    assert not is_maintainer(None, settings)
