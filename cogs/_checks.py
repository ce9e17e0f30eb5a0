"""Who may decide and who may configure, read from the event payload, not a cache.

Deciding on items: a maintainer role or Manage Server. Changing settings with /config set:
Manage Server (or Administrator) or the guild's owner only. Both apply in home guilds only;
events from other guilds never reach the cogs (`bot.guilds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.guild_settings import GuildSettings


def _role_ids_and_permissions(subject: Any) -> tuple[set[int], discord.Permissions | None]:
    """Role ids and guild permissions carried by an interaction, member or member payload."""
    if isinstance(subject, discord.Interaction):
        user = subject.user
        role_ids, permissions = _role_ids_and_permissions(user)
        if subject.guild_id is not None and isinstance(user, discord.Member):
            # The interaction's resolved permissions come straight from the payload.
            from_payload = subject.permissions
            permissions = from_payload if permissions is None else permissions | from_payload
        return role_ids, permissions
    if isinstance(subject, discord.Member):
        role_ids = {int(role_id) for role_id in subject._roles}
        own = subject.resolved_permissions
        if own is not None:
            return role_ids, own
        return role_ids, _cached_permissions(subject)
    if isinstance(subject, Mapping):
        role_ids = {int(role_id) for role_id in subject.get("roles") or []}
        raw = subject.get("permissions")
        return role_ids, discord.Permissions(int(raw)) if raw is not None else None
    return set(), None


def _cached_permissions(member: discord.Member) -> discord.Permissions | None:
    """Permissions from the cached guild roles (sent with GUILD_CREATE; no member intent)."""
    try:
        return member.guild_permissions
    except AttributeError:
        return None


def _grants_manage_server(permissions: discord.Permissions | None) -> bool:
    return permissions is not None and (permissions.manage_guild or permissions.administrator)


def is_maintainer(subject: Any, guild_settings: GuildSettings) -> bool:
    """Whether the clicker or reactor may decide on feedback items.

    Args:
        subject: A `discord.Interaction`, a `discord.Member` built from an event payload,
            or a raw member payload (`roles` as id strings, optional `permissions`).
        guild_settings: The guild's effective settings (maintainer roles).

    Returns:
        True for a member with any maintainer role or the Manage Server permission.
    """
    role_ids, permissions = _role_ids_and_permissions(subject)
    if role_ids & set(guild_settings.maintainer_role_ids):
        return True
    return _grants_manage_server(permissions)


def may_configure(interaction: discord.Interaction) -> bool:
    """Whether the user may change the guild's settings: Manage Server or the guild's owner.

    A maintainer role alone is not enough: it could otherwise name who else is a maintainer.
    """
    if interaction.guild_id is None:
        return False
    _role_ids, permissions = _role_ids_and_permissions(interaction)
    if _grants_manage_server(permissions):
        return True
    guild = interaction.guild
    return guild is not None and guild.owner_id == interaction.user.id


def actor_of(user: discord.abc.User) -> str:
    """How a person appears in the audit trail: `name (id)`."""
    return f"{user.name} ({user.id})"
