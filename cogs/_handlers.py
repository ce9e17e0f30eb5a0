"""Persistent components hand their clicks to a cog, which may be (re)loading."""

from __future__ import annotations

from typing import Any

import discord


async def cog_or_apology(interaction: discord.Interaction, name: str, what: str) -> Any:
    """The loaded cog called `name`, or None after telling the clicker `what` is unavailable."""
    client: Any = interaction.client
    cog = client.get_cog(name)
    if cog is None:
        await interaction.response.send_message(
            f"{what} not available right now; try again in a minute.",
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
    return cog
