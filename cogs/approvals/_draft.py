"""The whole draft of an item, for maintainers when the review message cannot show all of it.

The review embed shows at most 4,096 characters of the draft (fewer when the other fields
need the room) and the Edit modal's body holds 4,000. A longer draft gets a "Full draft"
button (`approvals:full:<item id>`) that answers the maintainer privately with the whole text,
as a Markdown file when it is longer than a message.
"""

from __future__ import annotations

import io
from typing import Any

import discord

from cogs._mentions import NO_PINGS
from cogs.approvals._embeds import _spec_description, spec_text
from storage.models import FeedbackItem

FULL_DRAFT = "full"
#: Longest text sent as a message; a longer draft is sent as a file.
MESSAGE_LIMIT = 2000
#: Most characters the body input of the Edit modal holds.
TEXT_INPUT_LIMIT = 4000


def full_draft(item: FeedbackItem) -> str:
    """The draft as Markdown: title, body, then labels, kind and severity."""
    spec = item.spec or {}
    title = str(spec.get("title") or "Untitled feedback")
    labels = ", ".join(str(label) for label in spec.get("labels") or []) or "none"
    body = spec_text(spec) or "_No description drafted._"
    return (
        f"# {title}\n\n{body}\n\n---\n"
        f"Labels: {labels}\nKind: {item.kind or '?'} · Severity: {item.severity or '?'}\n"
    )


def body_too_long_to_edit(item: FeedbackItem) -> bool:
    """Whether the drafted body is longer than the Edit modal holds."""
    return len(spec_text(item.spec)) > TEXT_INPUT_LIMIT


def needs_full_draft(item: FeedbackItem, embed: discord.Embed) -> bool:
    """Whether `embed` (the item's review embed) shows less than the whole draft."""
    if item.content_removed_at is not None:
        return False
    cut = (embed.description or "") != _spec_description(item.spec)
    return cut or body_too_long_to_edit(item)


async def send_full_draft(interaction: discord.Interaction, item: FeedbackItem) -> None:
    """Answer the maintainer privately with the whole draft (a file when it is long)."""
    text = full_draft(item)
    if len(text) > MESSAGE_LIMIT:
        note = f"The full draft of feedback #{item.id} ({len(text):,} characters)."
        await send_private(interaction, note, attachment=(f"draft-{item.id}.md", text))
    else:
        await send_private(interaction, text)


async def send_private(
    interaction: discord.Interaction, text: str, *, attachment: tuple[str, str] | None = None
) -> None:
    """Answer only the one who acted, pinging nobody; `attachment` is (file name, its text)."""
    extra: dict[str, Any] = {}
    if attachment is not None:
        name, content = attachment
        extra["file"] = discord.File(io.BytesIO(content.encode()), filename=name)
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS, **extra)
    else:
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=NO_PINGS, **extra
        )
