"""Following Discord: deleted and edited messages, and guilds that remove the bot.

- A feedback message deleted before it was filed removes its item; while its review is open
  the item is withdrawn instead (its texts removed, Approve refused, the review says so).
- An edit before triage starts is triaged in its edited form; a later edit is shown on the
  review message.
- A guild that removes the bot keeps its data for GUILD_DATA_RETENTION (`bot.retention`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from agents.text import has_substance, without_mentions_of
from bot.personal_data import DeletedMessage
from cogs.privacy._base import PersonalDataCog
from cogs.privacy._notices import REMOVED_WITH_MESSAGE, removed_embed
from storage.guild_departures import GuildDepartureRepository
from storage.item_privacy import ReviewMessage
from storage.models import FeedbackItem, utcnow

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot

log = logging.getLogger(__name__)

#: Who a deletion or an edit is attributed to in the audit trail.
REPORTER = "reporter"
EDIT_LIMIT = 4000


class FollowDiscordCog(PersonalDataCog, name="FollowDiscord"):
    """Keeps the bot's records in step with what happens to messages and guilds."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        super().__init__(bot)
        self.departures = GuildDepartureRepository(bot.services.db)

    def _ours(self, guild_id: int | None) -> bool:
        return guild_id is not None and self.services.runner.owns_guild(guild_id)

    async def _refresh_review(self, item_id: int) -> None:
        approvals: Any = self.bot.get_cog("Approvals")
        if approvals is None:
            return
        try:
            await approvals.notifier.refresh(item_id)
        except discord.HTTPException:
            log.warning("could not update the review message of item %s", item_id)

    # -- deleted messages -------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        """A deleted feedback message takes its item along (or withdraws it)."""
        if self._ours(payload.guild_id):
            await self.message_deleted(payload.message_id)

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        """Each message of a bulk delete, as if deleted alone."""
        if self._ours(payload.guild_id):
            for message_id in sorted(payload.message_ids):
                await self.message_deleted(message_id)

    async def message_deleted(self, message_id: int) -> DeletedMessage | None:
        """Remove or withdraw the item of a deleted message; returns what was done."""
        key = f"message:{message_id}"
        before = await self.services.items.get_by_source(key)
        if before is None or before.id is None:
            return None
        outcome = await self.personal_data.message_deleted(key, actor=REPORTER)
        log.info("message %s deleted on Discord: item %s %s", message_id, before.id, outcome)
        if outcome == DeletedMessage.WITHDRAWN:
            await self._refresh_review(before.id)
        elif outcome == DeletedMessage.REMOVED:
            await self._empty_review(before)
        return outcome

    async def _empty_review(self, item: FeedbackItem) -> None:
        if item.id is None or item.review_channel_id is None or item.review_message_id is None:
            return
        review = ReviewMessage(
            item.id, item.guild_id, item.review_channel_id, item.review_message_id
        )
        channel = self.bot.get_partial_messageable(review.channel_id, guild_id=review.guild_id)
        try:
            await channel.get_partial_message(review.message_id).edit(
                content=None, embed=removed_embed(review, [], why=REMOVED_WITH_MESSAGE), view=None
            )
        except discord.HTTPException as exc:
            log.info("could not empty review message %s: %s", review.message_id, exc)

    # -- edited messages --------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Follow a reporter's edit: triage the new text, or show it on the review."""
        content = payload.data.get("content")
        if not isinstance(content, str) or not self._ours(payload.guild_id):
            return
        me = self.bot.user.id if self.bot.user is not None else None
        await self.message_edited(payload.message_id, without_mentions_of(content, me))

    async def message_edited(self, message_id: int, content: str) -> str | None:
        """Apply an edit; returns `replaced`, `shown` or None (nothing to do)."""
        item = await self.services.items.get_by_source(f"message:{message_id}")
        if item is None or item.id is None or item.content_removed_at is not None:
            return None
        if content in (item.raw_text, item.edited_text) or not has_substance(content):
            return None
        async with self.services.runner.exclusive([item.id]):
            replaced = await self.services.items.replace_text(item_id=item.id, text=content)
        if replaced:
            log.info("item %s: edited before triage; the edited text will be triaged", item.id)
            return "replaced"
        await self.services.items.update_fields(
            item_id=item.id, edited_text=content[:EDIT_LIMIT], edited_at=utcnow()
        )
        await self.services.items.record_event(item_id=item.id, actor=REPORTER, action="edited")
        if item.review_message_id is not None:
            await self._refresh_review(item.id)
        return "shown"

    # -- guilds -----------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot was removed: the guild's data goes after GUILD_DATA_RETENTION."""
        if self._ours(guild.id):
            await self.departures.left(guild.id)
            retention = self.services.settings.retention.guild_data_retention
            log.info("removed from guild %s; its data is deleted after %s", guild.id, retention)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Added (back): a pending deletion of the guild's data is called off."""
        if self._ours(guild.id) and await self.departures.returned(guild.id):
            log.info("back in guild %s; its data is kept", guild.id)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        """The bot is in the guild: no departure is pending (it may have been re-added)."""
        await self.on_guild_join(guild)
