"""Asks the reporter "is it the same problem as this open issue?" and takes the answer.

Where the question goes: a forum post's own thread; a reply to the reporter's message for
channel messages (and items sent to triage from a message); a DM for `/feedback`, whose
interaction token lasts only 15 minutes, too short for an ephemeral follow-up to be a durable
place for a question that waits up to `DUPLICATE_CONFIRM_TIMEOUT`. The buttons are dynamic
items, so they work after a restart; only the reporter may answer. When the question cannot
be put, the item goes to review at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from agents.triage.ports import ItemEvent
from agents.triage.state import Decision
from cogs._mentions import NO_PINGS
from cogs.dupconfirm._views import (
    COG_NAME,
    SameIssueButton,
    answer_view,
    answered_text,
    question_text,
)
from storage.models import FeedbackItem, ItemStatus

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot

log = logging.getLogger(__name__)

ASKED = "same_issue_asked"
NOT_YOURS = "Only the person who sent this report can answer this question."


class SameIssueCog(commands.Cog, name=COG_NAME):
    """`ItemNotifier` for `same_issue_asked`, and the handler of the answer buttons."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot
        self.services = bot.services

    async def cog_load(self) -> None:
        """Register the buttons and the notifier target."""
        self.bot.add_dynamic_items(SameIssueButton)
        self.services.notifier.register(self)

    async def cog_unload(self) -> None:
        """Unregister the buttons and the notifier target."""
        self.services.notifier.unregister(self)
        self.bot.remove_dynamic_items(SameIssueButton)

    # -- asking ---------------------------------------------------------------------------

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        """Put the question to the reporter, once per item."""
        if event != "same_issue_asked":
            return
        item = await self.services.items.get(item_id)
        if item is None or item.status != ItemStatus.AWAITING_REPORTER:
            return
        events = await self.services.items.events(item_id)
        entered = [e for e in events if e.to_status == ItemStatus.AWAITING_REPORTER]
        asked = [e for e in events if e.action == ASKED]
        if asked and entered and (asked[-1].id or 0) > (entered[-1].id or 0):
            self._arm_timeout(item)
            return
        issue = (entered[-1].details or {}) if entered else {}
        if not issue.get("issue"):
            await self._give_up(item_id, "no issue to ask about")
            return
        text = question_text(
            number=int(issue["issue"]), title=str(issue.get("title") or ""), url=issue.get("url")
        )
        try:
            message = await self._send(item, text)
        except discord.HTTPException as exc:
            log.warning("could not ask the reporter of item %s (%s)", item_id, exc)
            message = None
        if message is None:
            await self._give_up(item_id, "could not ask")
            return
        await self.services.items.record_event(
            item_id=item_id,
            actor="bot",
            action=ASKED,
            details={"channel_id": message.channel.id, "message_id": message.id},
        )
        self._arm_timeout(item)

    async def _send(self, item: FeedbackItem, text: str) -> discord.Message | None:
        """Post the question where the reporter will see it; None when there is no such place."""
        assert item.id is not None
        view = answer_view(item.id)
        if item.forum_post_id is not None:
            if not await self.bot.directory.may_post(item.guild_id, item.forum_post_id):
                return None
            post = self.bot.get_partial_messageable(item.forum_post_id, guild_id=item.guild_id)
            return await post.send(text, view=view, allowed_mentions=NO_PINGS)
        if item.channel_id is not None and item.message_id is not None:
            if not await self.bot.directory.may_post(item.guild_id, item.channel_id):
                return None
            channel = self.bot.get_partial_messageable(item.channel_id, guild_id=item.guild_id)
            return await channel.get_partial_message(item.message_id).reply(
                text, view=view, allowed_mentions=NO_PINGS, mention_author=False
            )
        if item.author_id is None:
            return None
        user = await self.bot.fetch_user(item.author_id)
        return await user.send(text, view=view, allowed_mentions=NO_PINGS)

    async def _give_up(self, item_id: int, why: str) -> None:
        await self.services.runner.decide(
            item_id, Decision(action="confirm", actor="bot", reason=why)
        )

    def _scheduler(self) -> Any:
        return self.services.extras.get("scheduler")

    def _arm_timeout(self, item: FeedbackItem) -> None:
        scheduler = self._scheduler()
        if scheduler is not None:
            scheduler.plan(item)

    # -- answering ------------------------------------------------------------------------

    async def on_answer(self, interaction: discord.Interaction, answer: str, item_id: int) -> None:
        """Take the reporter's answer; anyone else gets one private line and changes nothing."""
        item = await self.services.items.get(item_id)
        if item is None:
            await self._tell(interaction, "This report no longer exists.")
            return
        if item.author_id is None or interaction.user.id != item.author_id:
            await self._tell(interaction, NOT_YOURS)
            return
        decision = Decision(
            action="confirm",
            actor=f"{interaction.user.name} ({interaction.user.id})"[:200],
            actor_id=interaction.user.id,
            reason=answer,
        )
        result = await self.services.runner.decide(item_id, decision)
        if not result.accepted:
            await self._tell(interaction, "This question was already answered or has expired.")
            return
        question = interaction.message.content if interaction.message is not None else ""
        await interaction.response.edit_message(
            content=answered_text(question, answer), view=None, allowed_mentions=NO_PINGS
        )

    @staticmethod
    async def _tell(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
