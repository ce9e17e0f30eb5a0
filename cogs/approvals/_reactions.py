"""Approve or reject by reacting on a review message: the approvals cog's reaction half."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from agents.triage.state import Decision
from cogs._checks import actor_of, is_maintainer
from cogs._mentions import NO_PINGS
from cogs.approvals._views import FILING_ACTIONS, parse_custom_id
from storage.models import FeedbackItem, ItemStatus

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.guild_settings import GuildSettings
    from bot.services import Services

log = logging.getLogger(__name__)


class ReactionsMixin:
    """`ApprovalsCog`'s reaction listener and what it needs to read and answer reactions."""

    if TYPE_CHECKING:
        bot: IterateSwarmBot

        @property
        def services(self) -> Services: ...

        async def _guild_settings(self, guild_id: int) -> GuildSettings: ...

        async def _refresh_review(self, item_id: int) -> None: ...

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """Approve or reject by reacting on a review message (maintainers only)."""
        me = self.bot.user
        if payload.guild_id is None or (me is not None and payload.user_id == me.id):
            return
        settings = await self._guild_settings(payload.guild_id)
        emoji = str(payload.emoji)
        if emoji == settings.approve_emoji:
            action = "approve"
        elif emoji == settings.reject_emoji:
            action = "reject"
        else:
            return
        item = await self._item_for_review_message(payload.message_id)
        if item is None or item.id is None or item.guild_id != payload.guild_id:
            return
        member = payload.member
        if member is None or member.bot or not is_maintainer(member, settings):
            await self._remove_reaction(payload)
            return
        decision = Decision.model_validate(
            {"action": action, "actor": actor_of(member), "actor_id": member.id}
        )
        shown = await self._shown_fingerprint(payload) if action == "approve" else None
        result = await self.services.runner.decide(item.id, decision, shown=shown)
        log.info(
            "reaction %s on item %s by %s: %s",
            action,
            item.id,
            decision.actor,
            "accepted" if result.accepted else result.message,
        )
        if result.changed:
            await self._remove_reaction(payload)
            await self._refresh_review(item.id)
            await self._tell_in_review_channel(payload, result.message)
        elif result.accepted and action == "approve":
            await self._refresh_review(item.id)

    async def _shown_fingerprint(self, payload: discord.RawReactionActionEvent) -> str | None:
        """The fingerprint the reacted-to review message shows (None: none, or unknown).

        A reaction says nothing of what was on screen: the message as Discord has it now is
        the closest answer, and a draft changed but not yet shown there is then refused.
        """
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        try:
            message = await channel.fetch_message(payload.message_id)
        except discord.HTTPException:
            log.info("could not read review message %s; approving unchecked", payload.message_id)
            return None
        view = discord.ui.View.from_message(message, timeout=None)
        for child in view.walk_children():
            shown = parse_custom_id(str(getattr(child, "custom_id", None) or ""))
            if shown.action in FILING_ACTIONS and shown.fingerprint:
                return shown.fingerprint
        return None

    async def _tell_in_review_channel(
        self, payload: discord.RawReactionActionEvent, text: str
    ) -> None:
        """Answer a reaction with a reply to the review message (mentions nobody)."""
        if not await self.bot.directory.may_post(payload.guild_id, payload.channel_id):
            return
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        review = channel.get_partial_message(payload.message_id)
        try:
            await channel.send(
                text,
                reference=review.to_reference(fail_if_not_exists=False),
                allowed_mentions=NO_PINGS,
            )
        except discord.HTTPException:
            log.info("could not answer a reaction on review message %s", payload.message_id)

    async def _item_for_review_message(self, message_id: int) -> FeedbackItem | None:
        item = await self.services.items.by_review_message(message_id)
        waiting = (ItemStatus.AWAITING_REVIEW, ItemStatus.FAILED)
        return item if item is not None and item.status in waiting else None

    async def _remove_reaction(self, payload: discord.RawReactionActionEvent) -> None:
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        message = channel.get_partial_message(payload.message_id)
        try:
            await message.remove_reaction(payload.emoji, discord.Object(id=payload.user_id))
        except discord.HTTPException:
            log.info("could not remove a reaction on %s", payload.message_id)
