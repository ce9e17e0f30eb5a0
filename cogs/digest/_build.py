"""The digest of one guild over one period: counts, the oldest waiting items, recurring themes.

Counts are aggregated by the database and themes are capped in time and memory
(`cogs.digest._themes`), so a digest over tens of thousands of items stays cheap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from agents.themes import DEFAULT_THEME_THRESHOLD
from cogs.digest._links import ItemLink, item_link, message_link
from cogs.digest._themes import THEMES_TIME_BUDGET, Theme, find_themes
from storage.digest import DigestRepository
from storage.embeddings import Embedder
from storage.vectors import VectorStore

__all__ = ["Digest", "ItemLink", "Theme", "build_digest", "message_link"]

log = logging.getLogger(__name__)

MAX_WAITING = 5


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
    themes_partial: bool = False
    """Some items could not be grouped within the time cap; theme counts may be low."""


async def build_digest(
    repository: DigestRepository,
    embedder: Embedder,
    *,
    guild_id: int,
    since: datetime,
    until: datetime,
    theme_threshold: float = DEFAULT_THEME_THRESHOLD,
    index: VectorStore | None = None,
    themes_budget: float = THEMES_TIME_BUDGET,
) -> Digest:
    """Gather one guild's digest for [since, until).

    Args:
        repository: The digest queries.
        embedder: Sentence embedder for items the index has no vector for.
        guild_id: The guild.
        since: Start of the period (inclusive).
        until: End of the period (exclusive).
        theme_threshold: Cosine similarity for joining a theme.
        index: The duplicate index's store, whose stored vectors the themes reuse.
        themes_budget: Seconds the themes may take.

    Returns:
        The digest; items without a kind (not yet triaged) count as `untriaged`.
    """
    digest = Digest(guild_id=guild_id, since=since, until=until)
    digest.new_items = await repository.count_created(guild_id, since, until)
    digest.by_kind = await repository.kind_counts(guild_id, since, until)
    digest.by_severity = await repository.severity_counts(guild_id, since, until)
    digest.outcomes = await repository.outcomes(guild_id, since, until)
    waiting = await repository.oldest_waiting(guild_id, limit=MAX_WAITING)
    digest.oldest_waiting = [item_link(item, prefer_review=True) for item in waiting]
    themes = await find_themes(
        repository,
        embedder,
        index,
        guild_id=guild_id,
        since=since,
        until=until,
        threshold=theme_threshold,
        budget_seconds=themes_budget,
    )
    digest.themes, digest.themes_partial = themes.themes, themes.partial
    return digest
