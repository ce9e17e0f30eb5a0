"""What the privacy cogs share: the bot, its services and the personal-data service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord.ext import commands

from bot.personal_data import PersonalData

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.services import Services


class PersonalDataCog(commands.Cog):
    """Base of the privacy cogs."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.bot.services

    @property
    def personal_data(self) -> PersonalData:
        """The service that forgets."""
        assert self.services.personal_data is not None
        return self.services.personal_data
