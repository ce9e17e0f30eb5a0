"""Maintainer commands: /status (health of the whole pipeline) and /config (show and set).

Maintainers (a maintainer role or Manage Server) may read; only Manage Server or the
guild's owner may change a setting. Every change and every refused attempt is audited
with its actor.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from agents.text import truncate
from bot.guild_settings import EDITABLE_KEYS, ConfigError
from cogs._checks import actor_of, is_maintainer, may_configure
from cogs.admin._status import (
    effective_config,
    format_config_value,
    gather_status,
    status_fields,
)

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
NOT_MAINTAINER = "Only maintainers can use this command."
NOT_A_MANAGER = "only members with the Manage Server permission (or the owner) can change settings."
#: Characters of a refused value kept in the audit trail.
AUDITED_VALUE_CHARS = 200
EMBED_COLOUR = discord.Colour.blurple()
FIELD_VALUE_MAX = 1024
DESCRIPTION_MAX = 4096

KEY_CHOICES = [app_commands.Choice(name=key, value=key) for key in list(EDITABLE_KEYS)[:25]]


class AdminCog(commands.Cog):
    """/status and /config for maintainers; every answer is ephemeral."""

    config = app_commands.Group(
        name="config", description="Show or change this server's IterateSwarm settings"
    )
    config.guild_only = True

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot
        self.services = bot.services

    async def _maintainer_or_refuse(self, interaction: discord.Interaction) -> bool:
        """Defer (ephemeral), then check the payload's roles; refuse non-maintainers."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self.services.guild_settings.resolve(interaction.guild_id)
        if is_maintainer(interaction, settings):
            return True
        await interaction.followup.send(NOT_MAINTAINER, ephemeral=True, allowed_mentions=NONE)
        return False

    @app_commands.command(name="status", description="Pipeline health and the review queue")
    @app_commands.guild_only()
    async def status(self, interaction: discord.Interaction) -> None:
        """Items per status, throughput, oldest waiting item, engine, GitHub, database, index."""
        if not await self._maintainer_or_refuse(interaction):
            return
        report = await gather_status(self.services, guild_id=interaction.guild_id)
        embed = discord.Embed(title="IterateSwarm status", colour=EMBED_COLOUR)
        for name, value in status_fields(report)[:25]:
            embed.add_field(name=name, value=truncate(value, FIELD_VALUE_MAX), inline=False)
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NONE)

    @config.command(name="show", description="Effective settings and where each comes from")
    async def config_show(self, interaction: discord.Interaction) -> None:
        """Every editable setting: value and source (stored with /config, environment, default)."""
        if not await self._maintainer_or_refuse(interaction):
            return
        assert interaction.guild_id is not None
        rows = await effective_config(self.services, interaction.guild_id)
        escape = discord.utils.escape_markdown
        lines = [
            f"**{escape(row.key)}** = {escape(format_config_value(row.key, row.value))}"
            f" _({row.source})_"
            for row in rows
        ]
        embed = discord.Embed(
            title="IterateSwarm settings",
            description=truncate("\n".join(lines), DESCRIPTION_MAX),
            colour=EMBED_COLOUR,
        )
        embed.set_footer(text="Change one with /config set; set a value to 'default' to reset it.")
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NONE)

    @config.command(name="set", description="Change one setting for this server")
    @app_commands.describe(key="The setting to change", value="The new value ('default' resets)")
    @app_commands.choices(key=KEY_CHOICES)
    async def config_set(
        self, interaction: discord.Interaction, key: app_commands.Choice[str], value: str
    ) -> None:
        """Validate, store and audit one change (Manage Server or the owner only)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        actor = actor_of(interaction.user)
        try:
            if not may_configure(interaction):
                raise ConfigError(NOT_A_MANAGER)
            updated = await self.services.guild_settings.change(
                guild_id=interaction.guild_id,
                key=key.value,
                raw=value,
                actor=actor,
                ownership=self.bot.directory,
            )
        except ConfigError as exc:
            await self.services.guild_configs.record_refusal(
                guild_id=interaction.guild_id,
                key=key.value,
                value=value[:AUDITED_VALUE_CHARS],
                actor=actor,
                reason=str(exc),
            )
            log.info("config %s refused for %s: %s", key.value, interaction.user.id, exc)
            await interaction.followup.send(
                f"Not changed: {exc}", ephemeral=True, allowed_mentions=NONE
            )
            return
        shown = format_config_value(key.value, getattr(updated, key.value, None))
        log.info("config %s changed by %s", key.value, interaction.user.id)
        await interaction.followup.send(
            f"`{key.value}` is now {discord.utils.escape_markdown(shown)}.",
            ephemeral=True,
            allowed_mentions=NONE,
        )
