"""The digest of one guild over one period: counts, the oldest waiting items, recurring themes."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from agents.text import normalize, truncate
from agents.themes import DEFAULT_THEME_THRESHOLD, cluster_themes
from storage.digest import DigestRepository
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus

log = logging.getLogger(__name__)

MAX_WAITING = 5
MAX_THEMES = 5
MAX_THEME_LINKS = 3
MIN_THEME_SIZE = 2
THEME_TEXT_CHARS = 500


@dataclass(frozen=True, slots=True)
class ItemLink:
    """One item as a digest line shows it."""

    item_id: int
    title: str
    url: str | None
    since: datetime


@dataclass(frozen=True, slots=True)
class Theme:
    """Similar feedback from the period."""

    title: str
    count: int
    links: list[ItemLink]


@dataclass(slots=True)
class Digest:
    """Everything a digest message shows."""

    guild_id: int
    since: datetime
    until: datetime
    new_items: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    oldest_waiting: list[ItemLink] = field(default_factory=list)
    themes: list[Theme] = field(default_factory=list)


def message_link(
    guild_id: int | None, channel_id: int | None, message_id: int | None
) -> str | None:
    """A Discord jump link, or None when a part is missing."""
    if guild_id is None or channel_id is None or message_id is None:
        return None
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _title(item: FeedbackItem) -> str:
    title = str((item.spec or {}).get("title") or "").strip()
    return truncate(title or " ".join(item.raw_text.split()), 80)


def _link(item: FeedbackItem, *, prefer_review: bool) -> ItemLink:
    review = message_link(item.guild_id, item.review_channel_id, item.review_message_id)
    url = review if prefer_review else None
    return ItemLink(
        item_id=item.id or 0,
        title=_title(item),
        url=url or item.jump_url or review,
        since=item.updated_at,
    )


def _is_theme_material(item: FeedbackItem) -> bool:
    return item.status != ItemStatus.NOT_ACTIONABLE and item.actionable is not False


async def find_themes(
    items: list[FeedbackItem], embedder: Embedder, *, threshold: float = DEFAULT_THEME_THRESHOLD
) -> list[Theme]:
    """Clusters of similar actionable feedback, biggest first, singletons left out.

    Args:
        items: The period's items.
        embedder: Sentence embedder (the encoding and the clustering run off the event loop).
        threshold: Cosine similarity for joining a theme.
    """
    material = [item for item in items if _is_theme_material(item)]
    if len(material) < MIN_THEME_SIZE:
        return []
    texts = [truncate(normalize(item.raw_text), THEME_TEXT_CHARS) for item in material]
    vectors = await embedder.encode_async(texts)
    clusters = await asyncio.to_thread(
        cluster_themes, np.asarray(vectors, dtype=np.float32), threshold=threshold
    )
    themes = []
    for members in clusters:
        if len(members) < MIN_THEME_SIZE:
            continue
        grouped = [material[i] for i in members]
        themes.append(
            Theme(
                title=_title(grouped[0]),
                count=len(grouped),
                links=[_link(i, prefer_review=False) for i in grouped[:MAX_THEME_LINKS]],
            )
        )
    return themes[:MAX_THEMES]


async def build_digest(
    repository: DigestRepository,
    embedder: Embedder,
    *,
    guild_id: int,
    since: datetime,
    until: datetime,
    theme_threshold: float = DEFAULT_THEME_THRESHOLD,
) -> Digest:
    """Gather one guild's digest for [since, until).

    Args:
        repository: The digest queries.
        embedder: Sentence embedder for the themes.
        guild_id: The guild.
        since: Start of the period (inclusive).
        until: End of the period (exclusive).
        theme_threshold: Cosine similarity for joining a theme.

    Returns:
        The digest; items without a kind (not yet triaged) count as `untriaged`.
    """
    items = await repository.items_created(guild_id, since, until)
    digest = Digest(guild_id=guild_id, since=since, until=until, new_items=len(items))
    digest.by_kind = dict(Counter(item.kind or "untriaged" for item in items).most_common())
    digest.by_severity = dict(
        Counter(item.severity for item in items if item.severity and item.actionable).most_common()
    )
    digest.outcomes = await repository.outcomes(guild_id, since, until)
    waiting = await repository.oldest_waiting(guild_id, limit=MAX_WAITING)
    digest.oldest_waiting = [_link(item, prefer_review=True) for item in waiting]
    digest.themes = await find_themes(items, embedder, threshold=theme_threshold)
    return digest
