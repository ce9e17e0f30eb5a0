"""The approvals cog: maintainers approve, reject, edit or link items from the review message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands
from pydantic import ValidationError

from agents.triage.state import Decision
from bot.notify import sync_listeners
from cogs._checks import actor_of, is_maintainer
from cogs._mentions import NO_PINGS
from cogs._modals import modal_custom_id, submitted_values
from cogs.approvals._draft import FULL_DRAFT, send_full_draft
from cogs.approvals._notify import ReviewNotifier
from cogs.approvals._outbox import DELIVER_EVERY
from cogs.approvals._reactions import ReactionsMixin
from cogs.approvals._stale_edit import answer_stale_edit
from cogs.approvals._updates import IssueUpdateNotifier
from cogs.approvals._views import (
    CUSTOM_ID_PREFIX,
    MODAL_ACTIONS,
    ModalTarget,
    ReviewButton,
    decision_modal,
    parse_custom_id,
    parse_modal_custom_id,
)
from storage.decisions import first_edit_on
from storage.models import FeedbackItem, ItemStatus

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.guild_settings import GuildSettings
    from bot.services import Services

log = logging.getLogger(__name__)

#: How long other handlers get to answer a component before we say we don't know it.
UNCLAIMED_GRACE_SECONDS = 1.5

NOT_A_MAINTAINER = "Only maintainers can decide on feedback."
UNKNOWN_BUTTON = "This button is not one I recognise; it may belong to an old message."
UNKNOWN_ITEM = "I can't find this feedback item any more."

#: Statuses in which each action still makes sense (checked again by the runner's CAS).
_OPEN_FOR: dict[str, frozenset[ItemStatus]] = {
    "approve": frozenset({ItemStatus.AWAITING_REVIEW}),
    "edit": frozenset({ItemStatus.AWAITING_REVIEW, ItemStatus.FAILED}),
    "duplicate": frozenset({ItemStatus.AWAITING_REVIEW}),
    "reject": frozenset({ItemStatus.AWAITING_REVIEW, ItemStatus.FAILED}),
    "retry": frozenset({ItemStatus.FAILED}),
}


async def _reply(interaction: discord.Interaction, text: str) -> None:
    """Answer ephemerally, as the first response or as a followup."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
    else:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)


def _stale(item: FeedbackItem, draft_revision: int) -> bool:
    """Still open to an Edit, but no longer the draft an Edit modal was opened on."""
    edit_open = ItemStatus(item.status) in _OPEN_FOR["edit"]
    return edit_open and item.draft_revision != draft_revision


def _carries(message: discord.Message, custom_id: str) -> bool:
    """Whether the message (as sent with the interaction) has a component with `custom_id`."""
    view = discord.ui.View.from_message(message, timeout=None)
    return any(getattr(item, "custom_id", None) == custom_id for item in view.walk_children())


class ApprovalsCog(ReactionsMixin, commands.Cog, name="Approvals"):
    """Review messages, their buttons and reactions, reminders and restart recovery."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot
        self.notifier = ReviewNotifier(bot)
        self.updates = IssueUpdateNotifier(self.notifier)

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.bot.services

    async def cog_load(self) -> None:
        """Register the buttons, the notifiers and the reminder callback."""
        self.bot.add_dynamic_items(ReviewButton)
        self.services.notifier.register(self.notifier)
        sync_listeners(self.services.extras).register(self.updates.synced)
        scheduler = self.services.extras.get("scheduler")
        if scheduler is not None:
            scheduler.on_remind = self.notifier.remind

    async def cog_unload(self) -> None:
        """Undo everything `cog_load` registered."""
        self.bot.remove_dynamic_items(ReviewButton)
        self.services.notifier.unregister(self.notifier)
        sync_listeners(self.services.extras).unregister(self.updates.synced)
        scheduler = self.services.extras.get("scheduler")
        if scheduler is not None and scheduler.on_remind == self.notifier.remind:
            scheduler.on_remind = None

    # -- buttons and modals ---------------------------------------------------------------

    async def _open_item(
        self, guild_id: int | None, item_id: int, action: str
    ) -> tuple[FeedbackItem | None, str | None]:
        """The item if `action` still applies to it, else a message explaining why not."""
        item = await self.services.items.get(item_id)
        if item is None or item.guild_id != guild_id:
            return None, UNKNOWN_ITEM
        if ItemStatus(item.status) not in _OPEN_FOR[action]:
            return None, f"Nothing to do: this item is already {item.status}."
        return item, None

    async def _guild_settings(self, guild_id: int) -> GuildSettings:
        return await self.services.guild_settings.resolve(guild_id)

    async def on_button(
        self,
        interaction: discord.Interaction,
        action: str | None,
        item_id: int | None,
        fingerprint: str | None = None,
    ) -> None:
        """A review button: check who clicked, then decide or open the matching modal.

        An Approve or Retry files only what its message showed (its `fingerprint`).
        """
        if action is None or item_id is None:
            await _reply(interaction, UNKNOWN_BUTTON)
            return
        if interaction.guild_id is None:
            await _reply(interaction, UNKNOWN_ITEM)
            return
        if action not in MODAL_ACTIONS:
            await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self._guild_settings(interaction.guild_id)
        if not is_maintainer(interaction, settings):
            await _reply(interaction, NOT_A_MAINTAINER)
            return
        if action == FULL_DRAFT:
            await self._full_draft(interaction, item_id)
            return
        item, problem = await self._open_item(interaction.guild_id, item_id, action)
        if item is None:
            await _reply(interaction, problem or UNKNOWN_ITEM)
            return
        if action in MODAL_ACTIONS:
            await interaction.response.send_modal(decision_modal(action, item))
        else:
            await self._decide(interaction, item_id, {"action": action}, shown=fingerprint)

    async def _full_draft(self, interaction: discord.Interaction, item_id: int) -> None:
        item = await self.services.items.get(item_id)
        if item is None or item.guild_id != interaction.guild_id:
            await _reply(interaction, UNKNOWN_ITEM)
        elif item.content_removed_at is not None or not item.spec:
            await _reply(interaction, "This item has no draft any more.")
        else:
            await send_full_draft(interaction, item)

    async def on_modal(self, interaction: discord.Interaction, target: ModalTarget) -> None:
        """A submitted review modal: acknowledge, check again, decide."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            await self._modal_decision(interaction, target)
        except Exception:
            log.exception("review modal %s for item %s failed", target.action, target.item_id)
            await _reply(interaction, "Something went wrong while applying that; please try again.")

    async def _modal_decision(self, interaction: discord.Interaction, target: ModalTarget) -> None:
        action, item_id = target.action, target.item_id
        if interaction.guild_id is None:
            await _reply(interaction, UNKNOWN_ITEM)
            return
        settings = await self._guild_settings(interaction.guild_id)
        if not is_maintainer(interaction, settings):
            await _reply(interaction, NOT_A_MAINTAINER)
            return
        item = await self.services.items.get(item_id)
        if item is None or item.guild_id != interaction.guild_id:
            await _reply(interaction, UNKNOWN_ITEM)
            return
        fields: dict[str, Any] = {"action": action}
        if action == "edit" and target.draft_revision is not None:
            # The changes are read against the stored draft: only while it is still the one
            # the modal showed (checked again where the edit is accepted).
            if _stale(item, target.draft_revision):
                await self._stale_edit(interaction, item_id, target.draft_revision)
                return
            fields["draft_revision"] = target.draft_revision
        values = decision_modal(action, item).values(submitted_values(interaction))
        if action == "duplicate" and values.get("issue_number") is None:
            await _reply(interaction, "Give the issue number as digits, for example 42.")
            return
        if action == "edit" and not values:
            await _reply(interaction, "Nothing changed.")
            return
        await self._decide(interaction, item_id, {**fields, **values})

    async def _stale_edit(
        self, interaction: discord.Interaction, item_id: int, draft_revision: int
    ) -> None:
        """Nothing was saved: say why and by whom, and give back what was typed."""
        log.info(
            "edit of item %s refused: its draft changed since revision %s", item_id, draft_revision
        )
        changer = await first_edit_on(self.services.items.db, item_id, draft_revision)
        await answer_stale_edit(
            interaction,
            item_id=item_id,
            submitted=submitted_values(interaction),
            decision=changer.decision if changer else None,
        )

    async def _decide(
        self,
        interaction: discord.Interaction,
        item_id: int,
        fields: dict[str, Any],
        *,
        shown: str | None = None,
    ) -> None:
        try:
            decision = Decision(
                actor=actor_of(interaction.user), actor_id=interaction.user.id, **fields
            )
        except ValidationError as exc:
            await _reply(interaction, f"That does not fit: {exc.errors()[0]['msg']}.")
            return
        result = await self.services.runner.decide(item_id, decision, shown=shown)
        outcome = "accepted" if result.accepted else "refused"
        log.info(
            "decision %s on item %s by %s: %s%s",
            decision.action,
            item_id,
            decision.actor,
            outcome,
            " (changed since shown)" if result.changed else "",
        )
        if result.stale_draft and decision.draft_revision is not None:
            await self._stale_edit(interaction, item_id, decision.draft_revision)
            return
        if result.changed:
            await self._refresh_review(item_id)  # what filing would write now, then the answer
        await _reply(interaction, result.message)
        if result.accepted and decision.action in ("approve", "retry"):
            await self._refresh_review(item_id)

    async def _refresh_review(self, item_id: int) -> None:
        """Show the item as it is now: buttons off while filing, or the changed draft."""
        try:
            await self.notifier.refresh(item_id)
        except discord.HTTPException:
            log.warning("could not update the review message of item %s", item_id)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Answer review modal submits, and clicks on buttons the message no longer carries."""
        modal_id = modal_custom_id(interaction)
        if modal_id is not None:
            target = parse_modal_custom_id(modal_id)
            if target is not None:
                await self.on_modal(interaction, target)
            elif modal_id.startswith(f"{CUSTOM_ID_PREFIX}:"):
                await _reply(interaction, UNKNOWN_BUTTON)
            return
        if interaction.type is not discord.InteractionType.component:
            return
        data: Any = interaction.data or {}
        custom_id = str(data.get("custom_id") or "")
        if not custom_id.startswith(f"{CUSTOM_ID_PREFIX}:"):
            await self._answer_if_unclaimed(interaction)
            return
        if interaction.message is not None and _carries(interaction.message, custom_id):
            return  # the dynamic item handles it
        await self.on_button(interaction, *parse_custom_id(custom_id))

    @staticmethod
    async def _answer_if_unclaimed(interaction: discord.Interaction) -> None:
        """A component no view of ours claims gets a clear answer before Discord's deadline."""
        await asyncio.sleep(UNCLAIMED_GRACE_SECONDS)
        if interaction.response.is_done():
            return
        with contextlib.suppress(discord.HTTPException):
            await interaction.response.send_message(
                "This button is not one this bot recognises (it may be from an old message).",
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )

    # -- restart recovery ----------------------------------------------------------------

    @commands.Cog.listener()
    async def on_iterateswarm_ready(self) -> None:
        """Deliver what finished items still owe, then post again the review messages that
        were never posted or were deleted; deliver what becomes due from then on."""
        outbox = self.notifier.outbox
        scheduler = self.notifier.scheduler
        if scheduler is not None:
            scheduler.every("outbox", DELIVER_EVERY, outbox.deliver_due)
        try:
            await outbox.deliver_due(everything=True)
        except Exception:
            log.exception("could not deliver the outbox")
        try:
            await self.notifier.recover()
        except Exception:
            log.exception("could not restore review messages")
