"""The /feedback modal: summary, details and what kind of feedback the reporter thinks it is."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import discord

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


SubmitHandler = Callable[[discord.Interaction, FeedbackForm], Awaitable[None]]


class FeedbackModal(discord.ui.Modal, title="Send feedback"):
    """Collects one piece of feedback; `on_form` stores it and answers the interaction."""

    def __init__(self, on_form: SubmitHandler, *, timeout: float = 900) -> None:
        super().__init__(timeout=timeout, custom_id="iterateswarm:feedback")
        self._on_form = on_form
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

    def form(self) -> FeedbackForm:
        """The submitted values."""
        chosen = self.kind.values[0] if self.kind.values else None
        return FeedbackForm(
            summary=self.summary.value or "",
            details=self.details.value or "",
            kind=kind_hint(chosen),
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Hand the form to the intake."""
        await self._on_form(interaction, self.form())

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        """Log and tell the reporter, without losing the interaction."""
        log.exception("feedback modal failed", exc_info=error)
        message = "Something went wrong while saving your feedback. Please try again."
        if interaction.response.is_done():
            await interaction.followup.send(
                message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
        else:
            await interaction.response.send_message(
                message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
