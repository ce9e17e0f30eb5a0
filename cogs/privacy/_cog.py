"""/forget me and /forget user: remove a person's data, after they confirm."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from cogs.privacy._base import PersonalDataCog
from cogs.privacy._notices import (
    KEPT,
    NO_PINGS,
    NOT_MANAGER,
    NOT_YOURS,
    confirmation,
    report_text,
    tell_discord,
)
from cogs.privacy._views import ForgetButton, confirm_view

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


def manages_server(interaction: discord.Interaction) -> bool:
    """Whether the member has Manage Server (or Administrator), from the interaction payload."""
    permissions = interaction.permissions
    return interaction.guild_id is not None and (
        permissions.manage_guild or permissions.administrator
    )


def usernames(user: discord.abc.User) -> set[str]:
    """The names a user may appear under in the bot's records."""
    return {name for name in (user.name, getattr(user, "global_name", None)) if name}


class PrivacyCog(PersonalDataCog, name="Privacy"):
    """People's data on request."""

    forget = app_commands.Group(
        name="forget", description="Remove what IterateSwarm keeps about a person"
    )
    forget.guild_only = True

    async def cog_load(self) -> None:
        """Register the confirmation buttons."""
        self.bot.add_dynamic_items(ForgetButton)

    async def cog_unload(self) -> None:
        """Unregister the confirmation buttons."""
        self.bot.remove_dynamic_items(ForgetButton)

    @forget.command(name="me", description="Remove everything IterateSwarm keeps about you")
    async def forget_me(self, interaction: discord.Interaction) -> None:
        """Ask the member to confirm, then remove their items, texts, name and id everywhere."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._ask(interaction, me=True, target=interaction.user)

    @forget.command(name="user", description="Remove what IterateSwarm keeps about a member")
    @app_commands.describe(user="The member whose data to remove")
    async def forget_user(self, interaction: discord.Interaction, user: discord.User) -> None:
        """Manage Server only: the member's items in this server, and their name and id."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        if not manages_server(interaction):
            await interaction.followup.send(NOT_MANAGER, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await self._ask(interaction, me=False, target=user)

    def _scope(self, interaction: discord.Interaction, *, me: bool) -> int | None:
        """The guild whose items go (None: every guild, for a person's own request)."""
        return None if me else interaction.guild_id

    async def _ask(
        self, interaction: discord.Interaction, *, me: bool, target: discord.abc.User
    ) -> None:
        guild = self._scope(interaction, me=me)
        items = await self.personal_data.privacy.items_of_author(target.id, guild_id=guild)
        traces = await self.personal_data.privacy.github_traces(items)
        question = confirmation(me=me, items=len(items), traces=traces, everywhere=guild is None)
        await interaction.followup.send(
            question,
            view=confirm_view(me=me, target_id=target.id),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
        )

    async def on_confirm(
        self, interaction: discord.Interaction, *, forget: bool, me: bool, target_id: int
    ) -> None:
        """A confirmation button: check who clicked, then forget (or not) and say what happened."""
        allowed = interaction.user.id == target_id if me else manages_server(interaction)
        if not allowed:
            text = NOT_YOURS if me else NOT_MANAGER
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
            return
        await interaction.response.defer()
        if not forget:
            await interaction.edit_original_response(content=KEPT, view=None)
            return
        names = usernames(interaction.user) if me else set()
        report = await self.personal_data.forget_person(
            target_id, guild_id=self._scope(interaction, me=me), names=names
        )
        log.info("forgot member %s at the request of %s", target_id, interaction.user.id)
        await tell_discord(self.bot, self.services.guild_settings, report)
        await interaction.edit_original_response(content=report_text(report, me=me), view=None)
