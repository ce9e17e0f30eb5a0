"""The question's "Yes, same" / "No, different" buttons (dynamic items that survive restarts)."""

from __future__ import annotations

import re
from typing import Any, Protocol

import discord

from agents.text import truncate
from agents.triage.same_issue import DIFFERENT, SAME
from cogs._handlers import cog_or_apology

CUSTOM_ID_PREFIX = "dupconfirm"
COG_NAME = "SameIssue"
_TEMPLATE = rf"{CUSTOM_ID_PREFIX}:(?P<answer>{SAME}|{DIFFERENT}):(?P<item_id>\d{{1,19}})"
_LOOKS = {
    SAME: ("Yes, same", discord.ButtonStyle.success),
    DIFFERENT: ("No, different", discord.ButtonStyle.secondary),
}


class AnswerHandler(Protocol):
    """What the buttons call (implemented by the cog)."""

    async def on_answer(self, interaction: discord.Interaction, answer: str, item_id: int) -> None:
        """The reporter (or someone else) clicked `answer` on the question about `item_id`."""
        ...


class SameIssueButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=_TEMPLATE):
    """One answer about one item; the answer and the item id live in the custom_id."""

    def __init__(self, answer: str, item_id: int) -> None:
        label, style = _LOOKS[answer]
        super().__init__(
            discord.ui.Button(
                label=label, style=style, custom_id=f"{CUSTOM_ID_PREFIX}:{answer}:{item_id}"
            )
        )
        self.answer, self.item_id = answer, item_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SameIssueButton:
        """Rebuild the button from a clicked component (after a restart too)."""
        return cls(match["answer"], int(match["item_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the cog."""
        handler: AnswerHandler | None = await cog_or_apology(interaction, COG_NAME, "This is")
        if handler is not None:
            await handler.on_answer(interaction, self.answer, self.item_id)


def answer_view(item_id: int) -> discord.ui.View:
    """The two buttons under the question."""
    view = discord.ui.View(timeout=None)
    view.add_item(SameIssueButton(SAME, item_id))
    view.add_item(SameIssueButton(DIFFERENT, item_id))
    return view


def question_text(*, number: int, title: str, url: str | None) -> str:
    """The question: the open issue's number, title and link, then "Is it the same problem?"."""
    name = discord.utils.escape_mentions(discord.utils.escape_markdown(truncate(title, 150)))
    link = f" (<{url}>)" if url else ""
    return f"This looks like the open issue #{number} **{name}**{link}.\nIs it the same problem?"


def answered_text(question: str, answer: str) -> str:
    """The question as it reads once answered (its buttons are removed)."""
    said = (
        "Thanks! You said it is the same problem."
        if answer == SAME
        else "Thanks! You said it is a different problem; the maintainers will look at it."
    )
    return f"{question}\n\n{said}"
