"""Asking reporters for missing details in a thread on their message, and taking the answer.

The graph decides what to ask (`agents/triage/details.py`) and pauses; this module opens a
thread on the reporter's message (thread id = message id), posts the questions, arms the
timeout, and turns the reporter's first substantial reply in that thread into a `details`
decision that resumes the graph. The reporter's later replies are added to the item while it is
undecided ("more from the reporter", shown for review and quoted in the issue) and ignored once
it is decided; replies by anyone else are left alone. No reply in that thread becomes an item.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from agents.text import has_substance, truncate
from agents.triage.ports import ItemEvent
from agents.triage.state import Decision
from cogs._mentions import NO_PINGS
from storage.models import FeedbackItem, ItemStatus
from storage.reporter_notes import MORE_LIMIT, ReporterNotes

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot
    from bot.services import Services

log = logging.getLogger(__name__)

THREAD_NAME = "More details for your report"
MAX_ANSWER_CHARS = 4000


def questions_message(item: FeedbackItem, questions: list[str]) -> str:
    """The message posted in the thread."""
    lines = "\n".join(f"{n}. {question}" for n, question in enumerate(questions, 1))
    return (
        "Thanks for the report! To help the maintainers fix it, could you answer here:\n"
        f"{lines}\n"
        "One reply in this thread is enough. If nobody answers, the report goes to the "
        "maintainers as it is."
    )


class DetailsConversation:
    """`ItemNotifier` target for `details_requested`, and the reply handler of the threads."""

    def __init__(self, bot: IterateSwarmBot) -> None:
        self.bot = bot

    @property
    def services(self) -> Services:
        """The bot's services."""
        return self.bot.services

    async def item_changed(self, item_id: int, event: ItemEvent) -> None:
        """Open the thread and ask, once per item."""
        if event != "details_requested":
            return
        item = await self.services.items.get(item_id)
        if item is None or item.status != ItemStatus.AWAITING_DETAILS:
            return
        if await self._already_asked(item_id):
            self._arm_timeout(item)
            return
        questions = await self._questions(item_id)
        if item.channel_id is None or item.message_id is None or not questions:
            await self._give_up(item_id)
            return
        if not await self.bot.directory.may_post(item.guild_id, item.channel_id):
            await self._give_up(item_id)
            return
        channel = self.bot.get_partial_messageable(item.channel_id, guild_id=item.guild_id)
        try:
            thread = await channel.get_partial_message(item.message_id).create_thread(
                name=THREAD_NAME, auto_archive_duration=1440
            )
            await thread.send(questions_message(item, questions), allowed_mentions=NO_PINGS)
        except discord.HTTPException as exc:
            log.warning(
                "could not ask for details on item %s (%s); sending it to review", item_id, exc
            )
            await self._give_up(item_id)
            return
        await self.services.items.record_event(
            item_id=item_id, actor="bot", action="details_asked", details={"thread_id": thread.id}
        )
        self._arm_timeout(item)

    async def on_thread_reply(self, message: discord.Message) -> bool:
        """Take the reporter's answer if `message` is one; True when it was handled."""
        if not isinstance(message.channel, discord.Thread):
            return False
        item = await self.services.items.get_by_source(f"message:{message.channel.id}")
        if item is None or item.id is None:
            return False
        if item.status != ItemStatus.AWAITING_DETAILS:
            if not await self._asked_in(item.id, message.channel.id):
                return False  # a thread someone else opened on the report
            if message.author.id == item.author_id and has_substance(message.content):
                await self._add_more(item.id, message)
            return True
        if message.author.id != item.author_id:
            return True  # someone else talking in the reporter's thread: not feedback either
        if not has_substance(message.content):
            return True
        answer = Decision(
            action="details",
            actor=f"{message.author.name} ({message.author.id})",
            actor_id=message.author.id,
            body=truncate(message.content, MAX_ANSWER_CHARS),
        )
        result = await self.services.runner.decide(item.id, answer)
        if not result.accepted:  # another reply was taken as the answer a moment before
            await self._add_more(item.id, message)
        else:
            try:
                await message.add_reaction("✅")
            except discord.HTTPException:
                log.info("could not react to the answer for item %s", item.id)
        return True

    async def _add_more(self, item_id: int, message: discord.Message) -> None:
        """Keep a later reply on the undecided item and show it for review; else ignore it."""
        text = truncate(message.content, MORE_LIMIT)
        added = await ReporterNotes(self.services.db).append(item_id=item_id, text=text)
        if added is None:
            log.info("item %s is decided or full; a later reply in its thread is ignored", item_id)
            return
        await self.services.items.record_event(
            item_id=item_id, actor="reporter", action="reporter_added", details={"chars": len(text)}
        )
        try:
            await message.add_reaction("✅")
        except discord.HTTPException:
            log.info("could not react to the addition for item %s", item_id)
        await self.services.notifier.item_changed(item_id, "reporter_added")

    async def _asked_in(self, item_id: int, thread_id: int) -> bool:
        """Whether the bot asked for details in this thread."""
        return any(
            event.action == "details_asked" and (event.details or {}).get("thread_id") == thread_id
            for event in await self.services.items.events(item_id)
        )

    async def _questions(self, item_id: int) -> list[str]:
        for event in reversed(await self.services.items.events(item_id)):
            if event.to_status == ItemStatus.AWAITING_DETAILS:
                return list((event.details or {}).get("questions") or [])
        return []

    async def _already_asked(self, item_id: int) -> bool:
        events = await self.services.items.events(item_id)
        asked = [e for e in events if e.action == "details_asked"]
        entered = [e for e in events if e.to_status == ItemStatus.AWAITING_DETAILS]
        return bool(asked and entered and asked[-1].id > entered[-1].id)  # type: ignore[operator]

    async def _give_up(self, item_id: int) -> None:
        await self.services.runner.decide(
            item_id, Decision(action="details", actor="bot", reason="could not ask")
        )

    def _arm_timeout(self, item: FeedbackItem) -> None:
        scheduler = self.services.extras.get("scheduler")
        if scheduler is not None:
            scheduler.plan(item)
