"""Correction memory: each guild's maintainer edits and rejections, searchable by similarity.

The triage graph records an example whenever a maintainer edits or rejects an item; the
engines look up the nearest examples of the same guild before answering. The offline engine
adopts the corrected kind and severity of a close enough example; the LLM engine sees the
closest few as examples in its prompt.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Unpack

import numpy as np
import numpy.typing as npt

from agents.engines.text_prep import embedding_text
from storage.embeddings import Embedder
from storage.examples import ExampleFields, ExampleRepository
from storage.models import Example

log = logging.getLogger(__name__)

DEFAULT_CORRECTION_SIMILARITY = 0.85
MAX_EXAMPLE_CHARS = 2000
#: How often a lookup reads the examples other processes wrote since the last read.
DEFAULT_REFRESH_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CorrectionMatch:
    """A stored example and how similar it is to the text being classified."""

    example_id: int
    item_id: int | None
    text: str
    kind: str | None
    severity: str | None
    title: str | None
    labels: list[str]
    rejected: bool
    similarity: float


@dataclass
class _GuildExamples:
    latest_id: int = 0
    read_at: float = float("-inf")
    examples: list[Example] = field(default_factory=list)
    vectors: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 0), dtype=np.float32)
    )


class CorrectionMemory:
    """Labelled examples per guild, with their embeddings cached in memory.

    A lookup reads the examples newer than the cached ones when this process recorded one
    since, and otherwise at most every `refresh_seconds`, so examples written by another
    process (or before a restart) are seen too without a query per triaged item.
    """

    def __init__(
        self,
        examples: ExampleRepository,
        embedder: Embedder,
        *,
        threshold: float = DEFAULT_CORRECTION_SIMILARITY,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        """Create the memory.

        Args:
            examples: Where examples are stored.
            embedder: Sentence embedder shared with the engines.
            threshold: Similarity from which a correction decides the offline verdict.
            refresh_seconds: Longest time before other processes' examples are read.
        """
        self.repository = examples
        self.embedder = embedder
        self.threshold = threshold
        self.refresh_seconds = refresh_seconds
        self._guilds: dict[int | None, _GuildExamples] = {}
        self._locks: dict[int | None, asyncio.Lock] = {}

    async def record(self, **correction: Unpack[ExampleFields]) -> int:
        """Store one correction (its fields: `ExampleFields`); returns the example id.

        The text is kept up to `MAX_EXAMPLE_CHARS`.
        """
        guild_id = correction["guild_id"]
        correction["text"] = correction["text"][:MAX_EXAMPLE_CHARS]
        example_id = await self.repository.add(**correction)
        if guild_id in self._guilds:
            self._guilds[guild_id].read_at = float("-inf")
        return example_id

    def forget(self, item_ids: set[int], *, guild_id: int | None = None) -> None:
        """Drop the cached examples of these items (and every example of `guild_id`)."""
        if guild_id is not None:
            self._guilds.pop(guild_id, None)
        for cached in self._guilds.values():
            keep = [i for i, e in enumerate(cached.examples) if e.item_id not in item_ids]
            if len(keep) < len(cached.examples):
                cached.examples = [cached.examples[i] for i in keep]
                cached.vectors = cached.vectors[keep] if cached.vectors.size else cached.vectors

    async def _refresh(self, guild_id: int | None) -> _GuildExamples:
        lock = self._locks.setdefault(guild_id, asyncio.Lock())
        async with lock:
            cached = self._guilds.setdefault(guild_id, _GuildExamples())
            if time.monotonic() - cached.read_at < self.refresh_seconds:
                return cached
            newer = await self.repository.for_guild(guild_id, after_id=cached.latest_id)
            if newer:
                fresh = await self.embedder.encode_async([embedding_text(e.text) for e in newer])
                fresh = np.asarray(fresh, dtype=np.float32)
                vectors = fresh if cached.vectors.size == 0 else np.vstack([cached.vectors, fresh])
                cached.examples = cached.examples + newer
                cached.vectors = vectors
                cached.latest_id = int(newer[-1].id or cached.latest_id)
            cached.read_at = time.monotonic()
            return cached

    async def nearest_to_vector(
        self, guild_id: int | None, vector: npt.NDArray[np.float32], *, k: int = 3
    ) -> list[CorrectionMatch]:
        """The guild's `k` most similar examples to an embedding (unit length), best first.

        Only the latest example of each item counts (a later edit supersedes an earlier one).

        Args:
            guild_id: The guild whose examples to search.
            vector: The embedding of `embedding_text(text)`.
            k: How many to return.
        """
        cached = await self._refresh(guild_id)
        if not cached.examples:
            return []
        similarities = cached.vectors @ np.asarray(vector, dtype=np.float32).reshape(-1)
        order = np.argsort(-similarities, kind="stable")
        latest: dict[int, int] = {}
        for index, example in enumerate(cached.examples):
            if example.item_id is not None:
                latest[example.item_id] = index
        matches: list[CorrectionMatch] = []
        for index in order:
            example = cached.examples[int(index)]
            if example.item_id is not None and latest[example.item_id] != int(index):
                continue
            matches.append(_match(example, float(similarities[int(index)])))
            if len(matches) == k:
                break
        return matches

    async def nearest(
        self, guild_id: int | None, text: str, *, k: int = 3
    ) -> list[CorrectionMatch]:
        """The guild's `k` most similar examples to `text`, best first."""
        vector = await self.embedder.embed(embedding_text(text))
        return await self.nearest_to_vector(guild_id, np.asarray(vector), k=k)


def _match(example: Example, similarity: float) -> CorrectionMatch:
    return CorrectionMatch(
        example_id=example.id or 0,
        item_id=example.item_id,
        text=example.text,
        kind=example.kind,
        severity=example.severity,
        title=example.title,
        labels=list(example.labels or []),
        rejected=example.rejected,
        similarity=round(similarity, 4),
    )
