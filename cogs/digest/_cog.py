"""The digest cog: posts each guild's digest every DIGEST_INTERVAL, and answers /digest.

The schedule survives restarts: each post is logged in the audit trail, a check runs every
few minutes (at most every half interval) and posts for every guild whose last digest is at
least DIGEST_INTERVAL old. The first check in a guild only starts its schedule.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from cogs._checks import is_maintainer
from cogs._mentions import NO_PINGS
from cogs.digest._build import Digest, build_digest
from cogs.digest._render import digest_embed
from storage.digest import DigestRepository

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.services import Services

log = logging.getLogger(__name__)

NOT_MAINTAINER = "Only maintainers can use this command."
MAX_CHECK_PERIOD = timedelta(minutes=10)
MIN_CHECK_PERIOD = timedelta(seconds=1)


def check_period(interval: timedelta) -> timedelta:
    """How often to look for due digests: half the interval, between 1 s and 10 min."""
    return max(MIN_CHECK_PERIOD, min(interval / 2, MAX_CHECK_PERIOD))


class DigestCog(commands.Cog, name="Digest"):
    """Scheduled digests in review channels and the /digest command."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot
        self.repository = DigestRepository(bot.services.db)

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.bot.services

    @property
    def interval(self) -> timedelta:
        """DIGEST_INTERVAL."""
        return self.services.settings.triage.digest_interval

    async def cog_load(self) -> None:
        """Schedule the periodic check (the scheduler starts once the bot is ready)."""
        scheduler = self.services.extras.get("scheduler")
        if scheduler is not None:
            scheduler.every("digest", check_period(self.interval), self.post_due_digests)

    async def build(self, guild_id: int, *, since: datetime, until: datetime) -> Digest:
        """The guild's digest for [since, until)."""
        dedup = self.services.dedup
        return await build_digest(
            self.repository,
            self.services.embedder,
            guild_id=guild_id,
            since=since,
            until=until,
            index=dedup.store if dedup is not None else None,
        )

    async def post_due_digests(self) -> int:
        """Post every guild digest that is due (last one DIGEST_INTERVAL old); returns how many."""
        posted = 0
        for guild in list(self.bot.guilds):
            if not self.services.runner.owns_guild(guild.id):
                continue
            try:
                posted += await self._post_if_due(guild.id)
            except Exception:
                log.warning(
                    "digest of guild %s failed; trying again later", guild.id, exc_info=True
                )
        return posted

    async def _post_if_due(self, guild_id: int) -> bool:
        settings = await self.services.guild_settings.resolve(guild_id)
        if settings.review_channel_id is None:
            return False
        now = datetime.now(UTC)
        last = await self.repository.last_posted(guild_id)
        if last is None:
            await self.repository.record_posted(
                guild_id, actor="scheduler", details={"schedule_started": True}
            )
            return False
        if now - last < self.interval:
            return False
        if not await self.bot.directory.may_post(guild_id, settings.review_channel_id):
            return False
        digest = await self.build(guild_id, since=last, until=now)
        channel = self.bot.get_partial_messageable(settings.review_channel_id, guild_id=guild_id)
        message = await channel.send(embed=digest_embed(digest), allowed_mentions=NO_PINGS)
        await self.repository.record_posted(
            guild_id,
            actor="scheduler",
            details={"message_id": message.id, "new_items": digest.new_items},
        )
        log.info("posted the digest of guild %s (%d new items)", guild_id, digest.new_items)
        return True

    @app_commands.command(name="digest", description="Summary of recent feedback")
    @app_commands.describe(public="Post it in this channel instead of only showing it to you")
    @app_commands.guild_only()
    async def digest(self, interaction: discord.Interaction, public: bool = False) -> None:
        """The digest of the last DIGEST_INTERVAL, for maintainers."""
        settings = await self.services.guild_settings.resolve(interaction.guild_id)
        allowed = interaction.guild_id is not None and is_maintainer(interaction, settings)
        await interaction.response.defer(ephemeral=not (public and allowed), thinking=True)
        if not allowed or interaction.guild_id is None:
            await interaction.followup.send(
                NOT_MAINTAINER, ephemeral=True, allowed_mentions=NO_PINGS
            )
            return
        now = datetime.now(UTC)
        digest = await self.build(interaction.guild_id, since=now - self.interval, until=now)
        await interaction.followup.send(
            embed=digest_embed(digest), ephemeral=not public, allowed_mentions=NO_PINGS
        )
