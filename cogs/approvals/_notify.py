"""Shows item changes in Discord: posts and edits review messages, tells reporters, reminds."""

from __future__ import annotations

import contextlib
import logging
import secrets
from datetime import UTC
from typing import TYPE_CHECKING, Any

import discord

from agents.triage.ports import ItemEvent
from bot.bounded import KeyedLocks
from cogs._mentions import NO_PINGS
from cogs.approvals._draft import needs_full_draft
from cogs.approvals._embeds import review_embed
from cogs.approvals._outbox import OutboxDelivery
from cogs.approvals._reporters import count_reporters
from cogs.approvals._views import review_view
from storage.decisions import DECISION_ACTION
from storage.models import FeedbackItem, ItemStatus

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.guild_settings import GuildSettings
    from bot.scheduler import ReviewScheduler
    from bot.services import Services

log = logging.getLogger(__name__)

FINAL_EVENTS = frozenset({"filed", "rejected", "duplicate", "expired", "failed"})
#: Events that finish an item: what they owe Discord is in the outbox.
OUTBOX_EVENTS = frozenset({"filed", "rejected", "duplicate", "expired", "not_actionable"})
WAITING_STATUSES = frozenset({ItemStatus.AWAITING_REVIEW, ItemStatus.FAILED})


class ReviewNotifier:
    """The `ItemNotifier` of the bot: idempotent, one item at a time."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot
        self._locks: KeyedLocks[int] = KeyedLocks()
        self.outbox = OutboxDelivery(self)

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.bot.services

    @property
    def scheduler(self) -> ReviewScheduler | None:
        """The review scheduler, when the process runs one."""
        return self.services.extras.get("scheduler")

    def lock(self, item_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        """The lock that serialises changes to one item's messages (kept only while used)."""
        return self._locks(item_id)

    @property
    def locks_in_use(self) -> int:
        """Items whose message lock is held or waited for."""
        return len(self._locks)

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        """React to the graph's event; errors posting the review message propagate."""
        item = await self.services.items.get(item_id)
        if item is None:
            return
        if event == "awaiting_review":
            await self.publish(item_id)
            refreshed = await self.services.items.get(item_id)
            if self.scheduler is not None and refreshed is not None:
                self.scheduler.plan(refreshed)
            return
        if event in OUTBOX_EVENTS:
            # What a finished item owes Discord was written with its final status.
            await self.outbox.deliver_item(item_id)
            return
        if event == "reporter_added":
            await self.refresh(item_id)
            return
        if event in FINAL_EVENTS:
            if self.scheduler is not None and event == "failed":
                self.scheduler.plan(item)
            try:
                await self.refresh(item_id)
            except discord.HTTPException:
                log.warning(
                    "could not update the review message of item %s", item_id, exc_info=True
                )

    # -- review message -----------------------------------------------------------------

    async def _settings(self, item: FeedbackItem) -> GuildSettings:
        return await self.services.guild_settings.resolve(item.guild_id)

    async def _failure_reason(self, item: FeedbackItem) -> str | None:
        if item.status != ItemStatus.FAILED or item.id is None:
            return None
        for event in reversed(await self.services.items.events(item.id)):
            if event.to_status == ItemStatus.FAILED and event.action != DECISION_ACTION:
                return str((event.details or {}).get("reason") or "") or None
        return None

    async def _render(self, item: FeedbackItem) -> dict[str, Any]:
        counted = await count_reporters(self.services.items, item)
        embed = review_embed(
            item,
            failure_reason=await self._failure_reason(item),
            retry_limit=self.services.settings.triage.filing_auto_retries,
            reporters=(counted.issue_number, counted.reporters) if counted else None,
        )
        waiting = item.status in WAITING_STATUSES
        fingerprint = await self.services.runner.fingerprint(item) if waiting else None
        view = review_view(item, full_draft=needs_full_draft(item, embed), fingerprint=fingerprint)
        return {"embed": embed, "view": view}

    def _channel(self, channel_id: int, guild_id: int | None) -> discord.PartialMessageable:
        return self.bot.get_partial_messageable(channel_id, guild_id=guild_id)

    async def publish(self, item_id: int, *, verify: bool = False) -> int | None:
        """Post the review message, or edit it when it exists; returns its id.

        Args:
            item_id: The item to show.
            verify: Fetch the existing message first and post a new one only when it is gone
                (restart recovery) instead of editing it.
        """
        async with self.lock(item_id):
            item = await self.services.items.get(item_id)
            if item is None or item.id is None:
                return None
            if item.review_message_id is not None and item.review_channel_id is not None:
                channel = self._channel(item.review_channel_id, item.guild_id)
                try:
                    if verify:
                        await channel.fetch_message(item.review_message_id)
                    else:
                        await channel.get_partial_message(item.review_message_id).edit(
                            **await self._render(item)
                        )
                    return item.review_message_id
                except discord.NotFound:
                    log.info("review message of item %s is gone; posting it again", item_id)
            return await self._post(item)

    async def _post(self, item: FeedbackItem) -> int | None:
        assert item.id is not None
        settings = await self._settings(item)
        channel_id = settings.review_channel_id or item.review_channel_id
        if channel_id is None:
            log.warning("no review channel configured for guild %s", item.guild_id)
            return None
        if not await self.bot.directory.may_post(item.guild_id, channel_id):
            return None
        message = await self._channel(channel_id, item.guild_id).send(
            **await self._render(item), allowed_mentions=NO_PINGS
        )
        await self.services.items.update_fields(
            item_id=item.id, review_channel_id=channel_id, review_message_id=message.id
        )
        log.info("posted review message %s for item %s", message.id, item.id)
        return message.id

    async def refresh(self, item_id: int) -> None:
        """Edit the review message to show the item's current status (never deletes it)."""
        async with self.lock(item_id):
            item = await self.services.items.get(item_id)
            if item is None:
                return
            if item.review_message_id is None or item.review_channel_id is None:
                if item.status in WAITING_STATUSES:
                    await self._post(item)
                return
            message = self._channel(item.review_channel_id, item.guild_id).get_partial_message(
                item.review_message_id
            )
            try:
                await message.edit(**await self._render(item))
            except discord.NotFound:
                if item.status in WAITING_STATUSES:
                    await self._post(item)

    async def recover(self) -> int:
        """Post again every waiting item's review message that is missing; returns how many."""
        waiting = await self.services.items.list_by_status(sorted(WAITING_STATUSES))
        owns = self.services.runner.owns_guild
        posted = 0
        for item in waiting:
            if item.id is None or not owns(item.guild_id):
                continue
            before = item.review_message_id
            try:
                after = await self.publish(item.id, verify=True)
            except discord.HTTPException:
                log.warning(
                    "could not restore the review message of item %s", item.id, exc_info=True
                )
                continue
            if after is not None and after != before:
                posted += 1
        if posted:
            log.info("re-posted %d missing review message(s)", posted)
        return posted

    # -- reporter -------------------------------------------------------------------------

    async def send_to_reporter(
        self,
        item: FeedbackItem,
        text: str,
        *,
        nonce: str | None = None,
        raise_transient: bool = False,
    ) -> str | None:
        """Reply to the original message, else DM, else post in its channel; returns how.

        Nothing is sent for an item of a guild that is not home, nor into a channel that is
        not the item's guild's.

        Args:
            item: The item whose reporter is told.
            text: What to tell them.
            nonce: Sent with `enforce_nonce`: Discord returns the message it accepted with
                the same nonce in the last minutes instead of posting it again.
            raise_transient: Raise a Discord server error (the message may have been
                accepted) instead of trying the next way; the caller retries later.
        """
        directory = self.bot.directory
        if not directory.may_message_reporter(item.guild_id):
            return None
        in_place = item.channel_id is not None and await directory.may_post(
            item.guild_id, item.channel_id
        )
        if in_place and item.message_id is not None and item.channel_id is not None:
            channel = self._channel(item.channel_id, item.guild_id)
            original = channel.get_partial_message(item.message_id)
            try:
                await channel.send(
                    text,
                    reference=original.to_reference(fail_if_not_exists=False),
                    allowed_mentions=NO_PINGS,
                    nonce=_nonce(nonce),
                )
                return "reply"
            except discord.HTTPException as exc:
                _reraise_transient(exc, raise_transient)
                log.info("could not reply to the original message of item %s", item.id)
        if item.author_id is not None:
            try:
                dm = await self.bot.create_dm(discord.Object(id=item.author_id))
                await dm.send(text, allowed_mentions=NO_PINGS, nonce=_nonce(nonce))
                return "dm"
            except discord.HTTPException as exc:
                _reraise_transient(exc, raise_transient)
                log.info("reporter of item %s does not accept DMs", item.id)
        if in_place and item.channel_id is not None and item.message_id is None:
            name = discord.utils.escape_mentions(discord.utils.escape_markdown(item.author_name))
            try:
                await self._channel(item.channel_id, item.guild_id).send(
                    f"**{name}**: {text}", allowed_mentions=NO_PINGS, nonce=_nonce(nonce)
                )
                return "channel"
            except discord.HTTPException as exc:
                _reraise_transient(exc, raise_transient)
                log.warning("could not tell the reporter of item %s", item.id, exc_info=True)
        return None

    async def _mark_not_actionable(self, item: FeedbackItem) -> None:
        if item.message_id is None or item.channel_id is None:
            return
        if not await self.bot.directory.may_post(item.guild_id, item.channel_id):
            return
        settings = await self._settings(item)
        message = self._channel(item.channel_id, item.guild_id).get_partial_message(item.message_id)
        try:
            await message.add_reaction(settings.not_actionable_emoji)
        except discord.HTTPException:
            log.info("could not react to the message of item %s", item.id)

    # -- reminders ------------------------------------------------------------------------

    async def remind(self, item_id: int) -> None:
        """Reply to the review message: the item is still waiting for a decision."""
        item = await self.services.items.get(item_id)
        if item is None or item.status != ItemStatus.AWAITING_REVIEW:
            return
        if item.review_message_id is None or item.review_channel_id is None:
            return
        if not await self.bot.directory.may_post(item.guild_id, item.review_channel_id):
            return
        since = item.created_at
        for event in await self.services.items.events(item_id):
            if (
                event.to_status == ItemStatus.AWAITING_REVIEW
                and event.from_status != event.to_status
            ):
                since = event.at
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        stamp = discord.utils.format_dt(since, "R")
        channel = self._channel(item.review_channel_id, item.guild_id)
        review = channel.get_partial_message(item.review_message_id)
        await channel.send(
            f"⏰ Feedback #{item_id} has been waiting for a decision since {stamp}.",
            reference=review.to_reference(fail_if_not_exists=False),
            allowed_mentions=NO_PINGS,
        )


def _reraise_transient(exc: discord.HTTPException, wanted: bool) -> None:
    """Raise `exc` again when it is a Discord server error and the caller wants those."""
    if wanted and isinstance(exc, discord.DiscordServerError):
        raise exc


def _nonce(nonce: str | None) -> str | int:
    """`send`'s nonce: the given one, else a random one (what discord.py sends by default)."""
    return nonce if nonce is not None else secrets.randbits(64)
