"""The confirmation buttons of /forget (dynamic items: they work after a restart too)."""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

from cogs._handlers import cog_or_apology

CUSTOM_ID_PREFIX = "privacy"
_TEMPLATE = rf"{CUSTOM_ID_PREFIX}:(?P<action>forget|keep):(?P<scope>me|user):(?P<target>\d{{1,20}})"


class ForgetHandler(Protocol):
    """What the buttons call (implemented by the privacy cog)."""

    async def on_confirm(
        self, interaction: discord.Interaction, *, forget: bool, me: bool, target_id: int
    ) -> None:
        """A confirmation button was clicked."""
        ...


class ForgetButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    """Confirm (`forget`) or cancel (`keep`) removing one person's data."""

    def __init__(self, *, forget: bool, me: bool, target_id: int) -> None:
        action, scope = ("forget" if forget else "keep"), ("me" if me else "user")
        label = ("Forget my data" if me else "Forget their data") if forget else "Keep it"
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.danger if forget else discord.ButtonStyle.secondary,
                custom_id=f"{CUSTOM_ID_PREFIX}:{action}:{scope}:{target_id}",
            )
        )
        self.forget, self.me, self.target_id = forget, me, target_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ForgetButton:
        """Rebuild the button from its custom id."""
        return cls(
            forget=match["action"] == "forget",
            me=match["scope"] == "me",
            target_id=int(match["target"]),
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the privacy cog."""
        handler: ForgetHandler | None = await cog_or_apology(interaction, "Privacy", "This is")
        if handler is not None:
            await handler.on_confirm(
                interaction, forget=self.forget, me=self.me, target_id=self.target_id
            )


def confirm_view(*, me: bool, target_id: int) -> discord.ui.View:
    """The two buttons under the confirmation question."""
    view = discord.ui.View(timeout=None)
    view.add_item(ForgetButton(forget=True, me=me, target_id=target_id))
    view.add_item(ForgetButton(forget=False, me=me, target_id=target_id))
    return view
