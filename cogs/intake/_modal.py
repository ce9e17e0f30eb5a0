"""The /feedback modal: summary, details and what kind of feedback the reporter thinks it is."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import discord

from cogs._modals import choice_value, text_value

log = logging.getLogger(__name__)

#: Kind hints the reporter may pick; "unsure" is stored as no hint.
KIND_CHOICES: dict[str, str] = {
    "bug": "Bug: something is broken",
    "feature": "Feature: an idea or request",
    "question": "Question: how do I…?",
    "unsure": "Not sure",
}
SUMMARY_MAX = 200
DETAILS_MAX = 3800


@dataclass(frozen=True)
class FeedbackForm:
    """What the reporter typed into the modal."""

    summary: str
    details: str
    kind: str | None

    @property
    def text(self) -> str:
        """The feedback as one text: the summary, a blank line, then the details."""
        if self.details.strip():
            return f"{self.summary}\n\n{self.details}"
        return self.summary


def kind_hint(value: str | None) -> str | None:
    """The stored hint for a chosen or typed kind (None for unsure or anything unknown)."""
    if value is None:
        return None
    cleaned = value.strip().lower()
    aliases = {"enhancement": "feature", "idea": "feature", "request": "feature"}
    cleaned = aliases.get(cleaned, cleaned)
    return cleaned if cleaned in KIND_CHOICES and cleaned != "unsure" else None


#: Custom_id prefix of the /feedback modal; the slash command's interaction id follows it.
MODAL_ID_PREFIX = "iterateswarm:feedback"


def feedback_modal_origin(custom_id: str, submit_id: int) -> int | None:
    """The id of the /feedback interaction that opened the modal `custom_id`.

    None when `custom_id` is not the feedback modal's; a modal without an origin in its id
    counts the submit itself as the origin.
    """
    if custom_id == MODAL_ID_PREFIX:
        return submit_id
    origin = custom_id.removeprefix(f"{MODAL_ID_PREFIX}:")
    if origin == custom_id or not origin.isdigit() or len(origin) > 20:
        return None
    return int(origin)


def feedback_form(values: Mapping[str, str | list[str]]) -> FeedbackForm:
    """The form as submitted (see `cogs._modals.submitted_values`)."""
    return FeedbackForm(
        summary=text_value(values, "summary"),
        details=text_value(values, "details"),
        kind=kind_hint(choice_value(values, "kind") or None),
    )


class FeedbackModal(discord.ui.Modal, title="Send feedback"):
    """Collects one piece of feedback. The intake cog answers its submit from the interaction
    alone (`cogs._modals`), so a submit after a restart is stored like any other.
    """

    def __init__(self, origin_id: int, *, timeout: float = 900) -> None:
        super().__init__(timeout=timeout, custom_id=f"{MODAL_ID_PREFIX}:{origin_id}")
        self.summary: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
            custom_id="summary",
            style=discord.TextStyle.short,
            placeholder="One line: what happened or what you would like",
            max_length=SUMMARY_MAX,
            required=True,
        )
        self.details: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
            custom_id="details",
            style=discord.TextStyle.paragraph,
            placeholder="Steps, what you expected, what you saw, versions…",
            max_length=DETAILS_MAX,
            required=False,
        )
        self.kind: discord.ui.Select[FeedbackModal] = discord.ui.Select(
            custom_id="kind",
            placeholder="Not sure",
            min_values=0,
            max_values=1,
            required=False,
            options=[
                discord.SelectOption(label=label, value=value)
                for value, label in KIND_CHOICES.items()
            ],
        )
        self.add_item(discord.ui.Label(text="Summary", component=self.summary))
        self.add_item(discord.ui.Label(text="Details", component=self.details))
        self.add_item(discord.ui.Label(text="Kind", component=self.kind))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Nothing here: the intake cog answers every feedback modal submit."""
