"""How a digest line points at one item: its title and a Discord link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agents.text import truncate
from storage.models import FeedbackItem


@dataclass(frozen=True, slots=True)
class ItemLink:
    """One item as a digest line shows it."""

    item_id: int
    title: str
    url: str | None
    since: datetime


def message_link(
    guild_id: int | None, channel_id: int | None, message_id: int | None
) -> str | None:
    """A Discord jump link, or None when a part is missing."""
    if guild_id is None or channel_id is None or message_id is None:
        return None
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def item_title(item: FeedbackItem) -> str:
    """The drafted issue title, else the start of the feedback text."""
    title = str((item.spec or {}).get("title") or "").strip()
    return truncate(title or " ".join(item.raw_text.split()), 80)


def item_link(item: FeedbackItem, *, prefer_review: bool) -> ItemLink:
    """A link to the item's review message or to the feedback message itself."""
    review = message_link(item.guild_id, item.review_channel_id, item.review_message_id)
    url = review if prefer_review else None
    return ItemLink(
        item_id=item.id or 0,
        title=item_title(item),
        url=url or item.jump_url or review,
        since=item.updated_at,
    )
