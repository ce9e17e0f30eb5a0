"""Recurring themes of one guild's period, within a time cap and bounded memory.

The vectors come from the duplicate index, where triage stored every actionable item's
embedding (`feedback:<id>`); only items the index lacks are embedded here, at most
`MAX_EMBEDDED` of them. Clustering is linear in the items (`agents.themes`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from agents.dedup.documents import feedback_id
from agents.engines.text_prep import embedding_text
from agents.text import normalize
from agents.themes import DEFAULT_THEME_THRESHOLD, Matrix, cluster_themes
from cogs.digest._links import ItemLink, item_link, item_title
from storage.digest import DigestRepository, ThemeCandidate
from storage.embeddings import Embedder
from storage.vectors import VectorStore

log = logging.getLogger(__name__)

MAX_THEMES = 5
MAX_THEME_LINKS = 3
MIN_THEME_SIZE = 2
#: The newest items of the period considered for themes.
MAX_THEME_ITEMS = 50_000
#: Items without a stored vector that are embedded for one digest.
MAX_EMBEDDED = 256
#: Stored vectors read from the index per call.
VECTOR_CHUNK = 5_000
#: Seconds the themes of one digest may take.
THEMES_TIME_BUDGET = 20.0


@dataclass(frozen=True, slots=True)
class Theme:
    """Similar feedback from the period."""

    title: str
    count: int
    links: list[ItemLink]


@dataclass(slots=True)
class Themes:
    """The themes found, and whether some items could not be looked at in time."""

    themes: list[Theme] = field(default_factory=list)
    partial: bool = False


@dataclass(slots=True)
class _Vectors:
    ids: list[int] = field(default_factory=list)
    rows: list[Matrix] = field(default_factory=list)
    partial: bool = False

    def add(self, ids: list[int], matrix: Matrix) -> None:
        if len(ids):
            self.ids.extend(ids)
            self.rows.append(np.asarray(matrix, dtype=np.float32))

    def matrix(self) -> Matrix:
        return np.vstack(self.rows) if self.rows else np.zeros((0, 0), dtype=np.float32)


async def _stored(index: VectorStore, candidates: list[ThemeCandidate], found: _Vectors) -> None:
    by_repo: dict[str, list[int]] = defaultdict(list)
    for candidate in candidates:
        if candidate.repo:
            by_repo[candidate.repo].append(candidate.item_id)
    for repo, item_ids in by_repo.items():
        for start in range(0, len(item_ids), VECTOR_CHUNK):
            chunk = [feedback_id(i) for i in item_ids[start : start + VECTOR_CHUNK]]
            doc_ids, matrix = await index.vectors(repo, chunk)
            found.add([int(d.split(":", 1)[1]) for d in doc_ids], matrix)


async def _embedded(
    embedder: Embedder, missing: list[ThemeCandidate], found: _Vectors, deadline: float
) -> None:
    """Embed an evenly spread sample of the items the index lacks, while time allows."""
    if len(missing) > MAX_EMBEDDED:
        found.partial = True
        step = len(missing) / MAX_EMBEDDED
        missing = [missing[int(i * step)] for i in range(MAX_EMBEDDED)]
    texts = [embedding_text(normalize(candidate.text)) for candidate in missing]
    try:
        vectors = await asyncio.wait_for(
            embedder.encode_async(texts), timeout=max(0.0, deadline - time.monotonic())
        )
    except TimeoutError:
        found.partial = True
        return
    found.add([candidate.item_id for candidate in missing], vectors)


async def gather_vectors(
    candidates: list[ThemeCandidate],
    embedder: Embedder,
    index: VectorStore | None,
    *,
    deadline: float,
) -> _Vectors:
    """Vectors of the candidates: stored ones from the index, a capped sample embedded."""
    found = _Vectors()
    if index is not None:
        try:
            await _stored(index, candidates, found)
        except Exception:
            log.warning("digest: could not read vectors from the index", exc_info=True)
    known = set(found.ids)
    missing = [c for c in candidates if c.item_id not in known]
    if missing:
        await _embedded(embedder, missing, found, deadline)
    return found


async def find_themes(
    repository: DigestRepository,
    embedder: Embedder,
    index: VectorStore | None,
    *,
    guild_id: int,
    since: datetime,
    until: datetime,
    threshold: float = DEFAULT_THEME_THRESHOLD,
    budget_seconds: float = THEMES_TIME_BUDGET,
) -> Themes:
    """Clusters of similar actionable feedback of [since, until), biggest first.

    Args:
        repository: The digest queries.
        embedder: Embeds items the index has no vector for.
        index: The duplicate index's store (None: embed a sample of everything).
        guild_id: The guild.
        since: Start of the period (inclusive).
        until: End of the period (exclusive).
        threshold: Cosine similarity for joining a theme.
        budget_seconds: Time cap; what is not done by then is left out (`partial`).
    """
    deadline = time.monotonic() + budget_seconds
    candidates = await repository.theme_candidates(guild_id, since, until, limit=MAX_THEME_ITEMS)
    if len(candidates) < MIN_THEME_SIZE:
        return Themes()
    vectors = await gather_vectors(candidates, embedder, index, deadline=deadline)
    matrix = vectors.matrix()
    clusters = await asyncio.to_thread(
        cluster_themes, matrix, threshold=threshold, deadline=deadline
    )
    found = Themes(partial=vectors.partial or len(candidates) == MAX_THEME_ITEMS)
    found.partial |= time.monotonic() >= deadline
    groups = [c for c in clusters if len(c) >= MIN_THEME_SIZE][:MAX_THEMES]
    for members in groups:
        ordered = sorted(vectors.ids[row] for row in members)
        shown = await repository.items(ordered[:MAX_THEME_LINKS])
        if not shown:
            continue
        found.themes.append(
            Theme(
                title=item_title(shown[0]),
                count=len(members),
                links=[item_link(item, prefer_review=False) for item in shown],
            )
        )
    return found
