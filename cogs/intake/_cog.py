"""Feedback intake: feedback-channel messages, /feedback, "Send to triage" and the triage reaction.

Every accepted piece of feedback becomes one `FeedbackItem` (idempotent on its source key, so a
replayed gateway event never makes a second item) and is handed to the triage runner.

Rate limit and backlog (`cogs/intake/_pacing.py`): over the per-user limit an item is stored
and acknowledged, its triage deferred (the start time is stored, so a restart keeps the pace);
past the user's backlog new messages are not picked up and the user is told once. Maintainer
requests (reaction, context menu) are not rate-limited.

Praise and chatter get their single light acknowledgement (the not-actionable reaction) from
the review notifier of the approvals cog when the graph reports the verdict.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from agents.text import has_substance
from bot.bounded import BoundedCache
from bot.guild_settings import GuildSettings
from cogs._checks import is_maintainer
from cogs._modals import modal_custom_id, submitted_values
from cogs.intake._attachments import AttachmentReader
from cogs.intake._details import DetailsConversation
from cogs.intake._forum import PostReplies, channel_item, forum_post, has_words
from cogs.intake._messages import (
    BACKLOG_FULL,
    NO_SUBSTANCE,
    NONE,
    NOT_MAINTAINER,
    SEND_TO_TRIAGE,
    SLOW_DOWN,
    emoji_matches,
    feedback_text,
    ignored_author,
    item_from_message,
    mentions_user,
)
from cogs.intake._modal import FeedbackForm, FeedbackModal, feedback_form, feedback_modal_origin
from cogs.intake._pacing import TriagePacing
from cogs.intake._ratelimit import Admission
from storage.forum_posts import ForumPostRepository
from storage.models import FeedbackItem, FeedbackItemBase, ItemStatus, SourceKind
from storage.pacing import PacingRepository

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot

log = logging.getLogger(__name__)

_REMEMBERED_MESSAGES = 2048
#: Channels whose thread parent is remembered (the least recently seen are looked up again).
_REMEMBERED_THREADS = 4096


@dataclass(frozen=True)
class Intake:
    """Outcome of recording one piece of feedback."""

    item: FeedbackItem | None
    created: bool
    admission: Admission | None = None


class IntakeCog(commands.Cog):
    """Turns Discord feedback into items and starts their triage."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot
        self.services = bot.services
        limits = self.services.settings.discord
        self.pacing = TriagePacing(
            items=self.services.items,
            pacing=PacingRepository(self.services.db),
            runner=self.services.runner,
            limit=limits.rate_limit_items,
            window=limits.rate_limit_window,
            backlog=limits.rate_limit_backlog,
        )
        self._explained: OrderedDict[int, None] = OrderedDict()
        self._thread_parents: BoundedCache[int, int | None] = BoundedCache(_REMEMBERED_THREADS)
        self.details = DetailsConversation(bot)
        self.post_replies = PostReplies(self.services.items, ForumPostRepository(self.services.db))
        self.attachments = AttachmentReader.from_settings(limits)
        self.send_to_triage_menu = app_commands.ContextMenu(
            name=SEND_TO_TRIAGE, callback=self.send_to_triage
        )
        self.send_to_triage_menu.guild_only = True

    async def cog_load(self) -> None:
        """Register the menu command and the details conversation; deferred triage is
        re-planned when the items are resumed, once connected."""
        self.services.notifier.register(self.details)
        self.bot.tree.add_command(self.send_to_triage_menu)
        self.services.runner.restore_first(self.pacing.restore)

    async def cog_unload(self) -> None:
        """Unregister the context menu, the details conversation and the re-planning."""
        self.services.notifier.unregister(self.details)
        self.services.runner.forget_restore(self.pacing.restore)
        self.bot.tree.remove_command(
            self.send_to_triage_menu.name, type=self.send_to_triage_menu.type
        )
        await self.attachments.aclose()

    # -- recording ----------------------------------------------------------------------------

    async def record(
        self,
        base: FeedbackItemBase,
        *,
        actor: str,
        requested_by: str | None = None,
        rate_limited: bool = True,
        files: Sequence[discord.Attachment] = (),
    ) -> Intake:
        """Store the item (once per source key) and start or defer its triage.

        Args:
            base: The intake fields of the item.
            actor: Who is recorded in the audit trail as having sent it.
            requested_by: Maintainer who explicitly sent it to triage.
            rate_limited: Whether the author's rate limit applies.
            files: The message's attachments: text files are read and kept with the item.

        Returns:
            The stored item (None when the author's backlog is full), whether it is new,
            and the rate-limit admission.
        """
        key = (base.guild_id, base.author_id)
        admission = self.pacing.admit(key) if rate_limited else Admission(0.0, notify=False)
        if admission.refused:
            return Intake(item=None, created=False, admission=admission)
        if files:
            base.attachments = [a.stored() for a in await self.attachments.read(files)]
        item, created = await self.services.items.create(
            item=base,
            actor=actor,
            requested_by=requested_by,
            triage_after=self.pacing.deferred_until(admission),
        )
        if not created or item.id is None:
            if rate_limited:
                self.pacing.release(key, admission)
            return Intake(item=item, created=False)
        self._start_triage(item.id, admission.delay)
        return Intake(item=item, created=True, admission=admission)

    def _start_triage(self, item_id: int, delay: float) -> None:
        if delay > 0:
            log.info("item %s: triage deferred %.0fs by the rate limit", item_id, delay)
        self.services.runner.submit(item_id, delay=delay)

    async def retriage(self, item: FeedbackItem, *, maintainer: str) -> FeedbackItem | None:
        """Send a not-actionable item back to triage, forced actionable; None if it moved on."""
        assert item.id is not None
        if item.content_removed_at is not None:
            return None  # its text is gone (retention)
        moved = await self.services.items.transition(
            item_id=item.id,
            to=ItemStatus.RECEIVED,
            actor=maintainer,
            expected=[ItemStatus.NOT_ACTIONABLE],
            details={"reason": "sent to triage again by a maintainer"},
            triage_requested_by=maintainer,
            flow_done=False,
            checkpoints_pruned_at=None,
        )
        if moved is None:
            return None
        settings = await self.services.guild_settings.resolve(item.guild_id)
        await self._remove_own_reaction(item, settings.not_actionable_emoji)
        self.services.runner.submit(item.id)
        return moved

    # -- feedback channels ----------------------------------------------------------------

    async def _feedback_parent(self, channel: object, channel_id: int) -> int | None:
        """The channel id that decides whether a message is feedback (a thread's parent)."""
        if isinstance(channel, discord.Thread):
            return channel.parent_id
        if not isinstance(channel, discord.PartialMessageable | discord.Object):
            return channel_id
        if channel_id not in self._thread_parents:
            try:
                fetched = await self.bot.fetch_channel(channel_id)
            except discord.HTTPException:
                return channel_id
            parent = fetched.parent_id if isinstance(fetched, discord.Thread) else channel_id
            self._thread_parents.put(channel_id, parent)
        return self._thread_parents.get(channel_id)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Record messages in the feedback channels and their threads; forum posts as one item."""
        if message.guild is None or ignored_author(message):
            return
        if message.type not in (discord.MessageType.default, discord.MessageType.reply):
            return
        if await self.details.on_thread_reply(message):
            return
        comments: Any = self.bot.get_cog("Comments")
        if comments is not None and await comments.claims(message):
            return  # talk about a filed issue in its post or thread
        settings = await self.services.guild_settings.resolve(message.guild.id)
        if not settings.feedback_channel_ids:
            return
        wanted = settings.feedback_channel_ids
        if message.channel.id not in wanted and (
            await self._feedback_parent(message.channel, message.channel.id) not in wanted
        ):
            return
        post = await forum_post(self.bot, message.channel)
        if post is not None and message.id != post.id:
            if self._readable(message):
                await self.post_replies.on_reply(message, post)
            return
        if not self._readable(message):
            return
        base = channel_item(message, post, self.services.settings.forums, bot_id=self._bot_id)
        if not has_words(base):
            await self._explain_once(message)
            return
        intake = await self.record(base, actor=message.author.name, files=message.attachments)
        if intake.item is None:
            if intake.admission is not None and intake.admission.notify_full:
                await self._reply(message, self._backlog_full(message.guild.id, message.author))
            return
        if not intake.created:
            log.info("message %s already recorded as item %s", message.id, intake.item.id)
            return
        await self._react(message, settings.ack_emoji)
        if intake.admission is not None and intake.admission.notify:
            await self._reply(message, SLOW_DOWN)

    @property
    def _bot_id(self) -> int | None:
        return self.bot.user.id if self.bot.user is not None else None

    def _readable(self, message: discord.Message) -> bool:
        """Without Message Content, Discord sends the text only of messages mentioning the bot."""
        return self.bot.intents.message_content or mentions_user(message, self._bot_id)

    def _backlog_full(self, guild_id: int | None, author: discord.abc.User) -> str:
        return BACKLOG_FULL.format(waiting=self.pacing.waiting((guild_id, author.id)))

    async def _explain_once(self, message: discord.Message) -> None:
        if message.id in self._explained:
            return
        self._explained[message.id] = None
        while len(self._explained) > _REMEMBERED_MESSAGES:
            self._explained.popitem(last=False)
        guild_id = message.guild.id if message.guild else None
        if self.pacing.may_reply((guild_id, message.author.id)):
            await self._reply(message, NO_SUBSTANCE)

    # -- /feedback ------------------------------------------------------------------------

    @app_commands.command(name="feedback", description="Send feedback to the maintainers")
    @app_commands.guild_only()
    async def feedback(self, interaction: discord.Interaction) -> None:
        """Open the feedback form (the modal is the first response)."""
        await interaction.response.send_modal(FeedbackModal(interaction.id))

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Store a submitted feedback form (whichever process showed the modal)."""
        custom_id = modal_custom_id(interaction)
        origin_id = None if custom_id is None else feedback_modal_origin(custom_id, interaction.id)
        if origin_id is None:
            return
        try:
            await self._on_form(
                interaction, feedback_form(submitted_values(interaction)), origin_id=origin_id
            )
        except Exception:
            log.exception("feedback modal failed")
            message = "Something went wrong while saving your feedback. Please try again."
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True, allowed_mentions=NONE)
            else:
                await interaction.response.send_message(
                    message, ephemeral=True, allowed_mentions=NONE
                )

    async def _on_form(
        self, interaction: discord.Interaction, form: FeedbackForm, *, origin_id: int
    ) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        if not has_substance(form.text):
            await self._followup(interaction, NO_SUBSTANCE)
            return
        user = interaction.user
        base = FeedbackItemBase(
            source_kind=SourceKind.SLASH,
            source_key=f"interaction:{origin_id}",
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            author_id=user.id,
            author_name=user.display_name[:200],
            raw_text=form.text,
            kind_hint=form.kind,
        )
        intake = await self.record(base, actor=user.name)
        if intake.item is None:
            kept = discord.utils.escape_markdown(form.text)[:1200]
            full = self._backlog_full(interaction.guild_id, user)
            await self._followup(interaction, f"{full}\nWhat you wrote, to send later:\n{kept}")
            return
        lines = [f"Thanks! Your feedback is saved as item #{intake.item.id}."]
        if intake.admission is not None and intake.admission.notify:
            lines.append(SLOW_DOWN)
        else:
            lines.append("The maintainers will look at it shortly.")
        await self._followup(interaction, " ".join(lines))

    # -- maintainer requests ----------------------------------------------------------------

    async def send_to_triage(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Message context menu: a maintainer sends any message to triage."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        settings = await self.services.guild_settings.resolve(interaction.guild_id)
        if not is_maintainer(interaction, settings):
            await self._followup(interaction, NOT_MAINTAINER)
            return
        answer = await self._maintainer_request(
            message,
            maintainer=interaction.user.name,
            kind=SourceKind.CONTEXT_MENU,
            settings=settings,
        )
        await self._followup(interaction, answer)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """A maintainer's triage reaction sends the message to triage."""
        if payload.guild_id is None or payload.member is None or payload.member.bot:
            return
        if self.bot.user is not None and payload.user_id == self.bot.user.id:
            return
        settings = await self.services.guild_settings.resolve(payload.guild_id)
        if not emoji_matches(payload.emoji, settings.triage_emoji):
            return
        if not is_maintainer(payload.member, settings):
            log.info("ignoring triage reaction by non-maintainer %s", payload.user_id)
            return
        channel = self.bot.get_channel(payload.channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            channel = self.bot.get_partial_messageable(
                payload.channel_id, guild_id=payload.guild_id
            )
        try:
            message = await channel.fetch_message(payload.message_id)
        except discord.HTTPException:
            log.warning("could not fetch message %s for the triage reaction", payload.message_id)
            return
        answer = await self._maintainer_request(
            message, maintainer=payload.member.name, kind=SourceKind.REACTION, settings=settings
        )
        log.info("triage reaction on message %s: %s", payload.message_id, answer)

    async def _maintainer_request(
        self,
        message: discord.Message,
        *,
        maintainer: str,
        kind: SourceKind,
        settings: GuildSettings,
    ) -> str:
        """Record or re-triage the message; returns what to tell the maintainer."""
        if ignored_author(message):
            return "Messages from bots and webhooks are not feedback."
        if not has_substance(feedback_text(message, self._bot_id)):
            return "That message has no text to triage."
        existing = await self.services.items.get_by_source(f"message:{message.id}")
        if existing is not None:
            return await self._existing(existing, maintainer=maintainer)
        intake = await self.record(
            item_from_message(message, kind, bot_id=self._bot_id),
            actor=maintainer,
            requested_by=maintainer,
            rate_limited=False,
            files=message.attachments,
        )
        if not intake.created or intake.item is None:
            assert intake.item is not None, "maintainer requests are never refused"
            return await self._existing(intake.item, maintainer=maintainer)
        await self._react(message, settings.ack_emoji)
        return f"Sent to triage as item #{intake.item.id}."

    async def _existing(self, item: FeedbackItem, *, maintainer: str) -> str:
        if item.status == ItemStatus.NOT_ACTIONABLE:
            moved = await self.retriage(item, maintainer=maintainer)
            if moved is not None:
                return f"Item #{item.id} was marked not actionable; it is being triaged again."
            item = await self.services.items.get(item.id or 0) or item
        where = ""
        if item.review_channel_id and item.review_message_id and item.guild_id:
            where = (
                f" Review message: https://discord.com/channels/"
                f"{item.guild_id}/{item.review_channel_id}/{item.review_message_id}"
            )
        if item.issue_url:
            where = f" Issue: {item.issue_url}"
        return f"This message is already item #{item.id} ({item.status}).{where}"

    # -- Discord helpers --------------------------------------------------------------------

    async def _react(self, message: discord.Message, emoji: str) -> None:
        try:
            await message.add_reaction(emoji)
        except discord.HTTPException as exc:
            log.warning("could not react to message %s: %s", message.id, exc)

    async def _remove_own_reaction(self, item: FeedbackItem, emoji: str) -> None:
        if item.channel_id is None or item.message_id is None or self.bot.user is None:
            return
        partial = self.bot.get_partial_messageable(item.channel_id, guild_id=item.guild_id)
        try:
            await partial.get_partial_message(item.message_id).remove_reaction(emoji, self.bot.user)
        except discord.HTTPException as exc:
            log.info("could not remove reaction from message %s: %s", item.message_id, exc)

    async def _reply(self, message: discord.Message, text: str) -> None:
        try:
            await message.reply(text, mention_author=False, allowed_mentions=NONE)
        except discord.HTTPException as exc:
            log.warning("could not reply to message %s: %s", message.id, exc)

    async def _followup(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NONE)
