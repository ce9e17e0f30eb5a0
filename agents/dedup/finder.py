"""`DuplicateIndex`: dense search in the vector store, lexically re-ranked, with a verdict."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.dedup.documents import (
    feedback_document,
    feedback_id,
    is_spam,
    issue_document,
    issue_id,
    issue_number,
)
from agents.dedup.evidence import Candidate, judge
from agents.dedup.scoring import CANDIDATE_POOL, DEFAULT_THRESHOLDS, Scoring, combined_scores
from agents.dedup.types import DuplicateMatch, DuplicateResult, Thresholds
from agents.engines.text_prep import embedding_text
from storage.batching import MicroBatcher
from storage.embeddings import DEFAULT_BATCH_SIZE, Embedder, Vector
from storage.forgetting import DataSubject
from storage.vectors import MetadataValue, Neighbor, StoredDocument, VectorStore

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

#: A query for `query_many`: (document id to leave out or None, text).
Query = tuple[str | None, str]
#: A feedback document waiting to be indexed: (repository, document, its embedding).
FeedbackWrite = tuple[str, StoredDocument, Vector]


@dataclass(frozen=True)
class FindQuery:
    """One `find` call waiting for its batch."""

    repo: str
    text: str
    vector: Vector
    exclude_id: str | None
    thresholds: Thresholds | None
    k: int


def _rows_by_repo(repos: Iterable[str]) -> dict[str, list[int]]:
    """The positions of each repository's entries, in order (one store call per repo)."""
    rows: dict[str, list[int]] = {}
    for row, repo in enumerate(repos):
        rows.setdefault(repo, []).append(row)
    return rows


def _batches(items: Iterable[StoredDocument], size: int) -> Iterator[list[StoredDocument]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _title(neighbor: Neighbor) -> str:
    """The neighbor's title as indexed (a feedback item's first words), else its first line."""
    title = neighbor.metadata.get("title")
    return str(title) if title else neighbor.text.split("\n", 1)[0][:200]


def _match(neighbor: Neighbor, score: float) -> DuplicateMatch:
    meta: Mapping[str, MetadataValue] = neighbor.metadata
    number = meta.get("number")
    url, state, title = meta.get("url"), meta.get("state"), meta.get("title")
    if neighbor.id.startswith("feedback:"):
        # Someone else's words are not copied into this item's records: the id is enough.
        title = ""
    return DuplicateMatch(
        id=neighbor.id,
        score=round(min(1.0, max(0.0, score)), 6),
        title=str(title) if title is not None else neighbor.text.split("\n", 1)[0][:200],
        url=str(url) if url else None,
        number=int(number) if isinstance(number, int | float) else None,
        state=str(state) if state else None,
    )


class DuplicateIndex:
    """Finds earlier issues and feedback that report the same thing, per repository.

    Dense nearest neighbours come from the vector store; the top `candidate_pool` are
    re-scored with a lexical TF-IDF cosine (`Scoring.HYBRID`, the default, chosen by
    `benchmarks/dedup_eval.py`). Closed issues stay candidates and carry `state="closed"`.
    Queries and feedback are embedded as the classifier embeds them (`embedding_text`), so
    the triage of one item runs the model once.
    """

    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        thresholds: Thresholds | None = None,
        scoring: Scoring = Scoring.HYBRID,
        candidate_pool: int = CANDIDATE_POOL,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.thresholds = thresholds or DEFAULT_THRESHOLDS
        self.scoring = scoring
        self.candidate_pool = candidate_pool
        self._owns_embedder = False
        #: Name of this store of personal data (`storage.forgetting.PersonalDataStore`).
        self.name = "duplicate index"
        # Concurrent items share one search, and one write of their feedback, per repo.
        self._finds: MicroBatcher[FindQuery, DuplicateResult] = MicroBatcher(
            self._find_batch, isolate_failures=True
        )
        self._feedback_writes: MicroBatcher[FeedbackWrite, None] = MicroBatcher(
            self._write_feedback, isolate_failures=True
        )

    @classmethod
    async def open(cls, settings: Settings, embedder: Embedder | None = None) -> DuplicateIndex:
        """Open the index configured by `settings` (CHROMA_URL or DATA_DIR/chroma).

        Args:
            settings: Process settings; the triage thresholds become the defaults.
            embedder: Shared embedder (default: a new one that loads the model on first use).
        """
        owned = Embedder() if embedder is None else embedder
        store = await asyncio.to_thread(
            VectorStore.open, data_dir=settings.data_dir, url=settings.chroma_url, embedder=owned
        )
        thresholds = Thresholds(
            duplicate=settings.triage.duplicate_threshold,
            possible=settings.triage.possible_duplicate_threshold,
        )
        index = cls(store, owned, thresholds=thresholds)
        index._owns_embedder = embedder is None
        return index

    def _rank(
        self,
        text: str,
        neighbors: list[Neighbor],
        *,
        exclude_id: str | None,
        k: int,
        thresholds: Thresholds | None,
    ) -> DuplicateResult:
        pool = [n for n in neighbors if n.id != exclude_id][: max(k, self.candidate_pool)]
        scores = combined_scores(
            text, [n.similarity for n in pool], [n.text for n in pool], scoring=self.scoring
        )
        ranked = sorted(zip(pool, scores, strict=True), key=lambda pair: -pair[1])[: max(k, 0)]
        matches = [_match(neighbor, score) for neighbor, score in ranked]
        candidates = [
            Candidate(title=_title(neighbor), score=match.score)
            for (neighbor, _), match in zip(ranked, matches, strict=True)
        ]
        evidence = judge(text, candidates, thresholds or self.thresholds)
        return DuplicateResult(verdict=evidence.verdict, matches=matches, reason=evidence.reason)

    def _fetch_size(self, k: int, exclude_id: str | None) -> int:
        pool = max(k, self.candidate_pool) if self.scoring is Scoring.HYBRID else k
        return pool + (1 if exclude_id is not None else 0)

    def _find_many_sync(self, queries: list[FindQuery]) -> list[DuplicateResult]:
        """Answer queries with one vector search per repository (on a worker thread)."""
        results: list[DuplicateResult | None] = [None] * len(queries)
        for repo, rows in _rows_by_repo(query.repo for query in queries).items():
            fetch = max(self._fetch_size(queries[r].k, queries[r].exclude_id) for r in rows)
            vectors = np.vstack([queries[r].vector for r in rows])
            for row, neighbors in zip(
                rows, self.store.nearest_sync(repo, vectors, fetch), strict=True
            ):
                query = queries[row]
                results[row] = self._rank(
                    query.text,
                    neighbors,
                    exclude_id=query.exclude_id,
                    k=query.k,
                    thresholds=query.thresholds,
                )
        return [result for result in results if result is not None]

    async def _find_batch(self, queries: list[FindQuery]) -> list[DuplicateResult]:
        return await asyncio.to_thread(self._find_many_sync, queries)

    async def find(
        self,
        text: str,
        *,
        repo: str,
        exclude_id: str | None = None,
        thresholds: Thresholds | None = None,
        k: int = 5,
    ) -> DuplicateResult:
        """Best candidates for `text` in `repo`'s index, with a verdict.

        Concurrent calls share one vector search per repository.

        Args:
            text: The feedback or report text.
            repo: Repository full name.
            exclude_id: A document id never to return (the query's own document).
            thresholds: Cut-offs for this call (default: the index's).
            k: How many matches to return.
        """
        vector = await self.embedder.embed(embedding_text(text))
        return await self._finds.submit(
            FindQuery(repo, text, vector, exclude_id=exclude_id, thresholds=thresholds, k=k)
        )

    async def add_feedback(
        self, *, item_id: int, text: str, repo: str, url: str | None = None
    ) -> None:
        """Index a feedback item so later feedback can match it.

        The embedding is the query's (`find` of the same text made it: a cache hit).
        """
        vector = await self.embedder.embed(embedding_text(text))
        document = feedback_document(item_id=item_id, text=text, url=url)
        await self._feedback_writes.submit((repo, document, vector))

    async def _write_feedback(self, writes: list[FeedbackWrite]) -> list[None]:
        for repo, rows in _rows_by_repo(repo for repo, _, _ in writes).items():
            documents = [writes[row][1] for row in rows]
            await self.store.upsert(repo, documents, np.vstack([writes[row][2] for row in rows]))
        return [None] * len(writes)

    async def add_issue(
        self,
        *,
        repo: str,
        number: int,
        title: str,
        body: str,
        url: str,
        state: str,
        labels: list[str],
    ) -> None:
        """Index (or update) one GitHub issue."""
        document = issue_document(
            number=number, title=title, body=body, url=url, state=state, labels=labels
        )
        await self.store.upsert(repo, [document])

    async def upsert_issues(self, repo: str, issues: list[dict[str, Any]]) -> None:
        """Index (or update) a page of issues given as {number, title, body, url, state, labels}.

        Issues labelled as spam are removed from the index instead.

        Args:
            repo: Repository full name.
            issues: Issue records; `body` and `labels` may be missing or None.
        """
        spam = [issue for issue in issues if is_spam([str(x) for x in issue.get("labels") or []])]
        if spam:
            await self.remove_issues(repo, [int(issue["number"]) for issue in spam])
        issues = [issue for issue in issues if issue not in spam]
        documents = [
            issue_document(
                number=int(issue["number"]),
                title=str(issue.get("title") or ""),
                body=issue.get("body"),
                url=str(issue.get("url") or ""),
                state=str(issue.get("state") or "open"),
                labels=[str(label) for label in issue.get("labels") or []],
            )
            for issue in issues
        ]
        for batch in _batches(documents, self.embedder.batch_size * 4):
            await self.store.upsert(repo, batch)

    async def issue_numbers(self, repo: str) -> set[int]:
        """Numbers of the issues `repo`'s index holds."""
        numbers = (issue_number(doc_id) for doc_id in await self.store.ids(repo))
        return {number for number in numbers if number is not None}

    async def remove_issues(self, repo: str, numbers: Iterable[int]) -> None:
        """Take issues out of `repo`'s index (unknown numbers are ignored)."""
        await self.store.delete(repo, [issue_id(number) for number in numbers])

    async def forget_feedback(self, item_ids: Iterable[int], repos: Iterable[str] = ()) -> int:
        """Remove the items' feedback documents from `repos` (default: every repository)."""
        documents = [feedback_id(item_id) for item_id in item_ids]
        if not documents:
            return 0
        removed = 0
        for repo in sorted(set(repos)) or await self.store.repositories():
            removed += len(await self.store.get(repo, documents))
            await self.store.delete(repo, documents)
        return removed

    async def forget(self, subject: DataSubject) -> int:
        """`PersonalDataStore`: remove the subject's items' feedback documents everywhere."""
        return await self.forget_feedback(subject.item_ids)

    async def known_states(self, repo: str, numbers: list[int]) -> dict[int, str]:
        """The indexed state (`open`/`closed`) of those issues among `numbers` that are indexed."""
        stored = await self.store.get(repo, [issue_id(n) for n in numbers])
        states: dict[int, str] = {}
        for document in stored.values():
            number, state = document.metadata.get("number"), document.metadata.get("state")
            if isinstance(number, int) and isinstance(state, str):
                states[number] = state
        return states

    async def count(self, repo: str) -> int:
        """How many documents `repo`'s index holds."""
        return await self.store.count(repo)

    def import_documents(
        self,
        repo: str,
        documents: Iterable[StoredDocument],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        on_batch: Callable[[int], None] | None = None,
    ) -> int:
        """Embed and upsert `documents` in batches; blocking (scripts and the CLI).

        Embedding the next batch overlaps with writing the previous one to the store.

        Args:
            repo: Repository full name.
            documents: Documents to upsert; an id seen before is replaced.
            batch_size: Documents per embedding batch.
            on_batch: Called with the size of each batch once it is stored.

        Returns:
            How many documents were written.
        """
        written = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vector-writer") as writer:
            pending: Future[None] | None = None
            pending_size = 0
            for batch in _batches(documents, batch_size):
                embeddings = self.embedder.encode([doc.text for doc in batch])
                if pending is not None:
                    pending.result()
                    written += pending_size
                    if on_batch is not None:
                        on_batch(pending_size)
                pending = writer.submit(self.store.upsert_sync, repo, batch, embeddings)
                pending_size = len(batch)
            if pending is not None:
                pending.result()
                written += pending_size
                if on_batch is not None:
                    on_batch(pending_size)
        return written

    def query_many(
        self,
        repo: str,
        queries: Sequence[Query],
        *,
        k: int = 10,
        thresholds: Thresholds | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> list[DuplicateResult]:
        """`find` for many queries at once; blocking (scripts, benchmarks and the CLI).

        Args:
            repo: Repository full name.
            queries: (id to exclude or None, text) pairs.
            k: Matches per query.
            thresholds: Cut-offs (default: the index's).
            batch_size: Queries embedded and searched together.

        Returns:
            One result per query, in order.
        """
        results: list[DuplicateResult] = []
        for start in range(0, len(queries), batch_size):
            chunk = queries[start : start + batch_size]
            vectors = self.embedder.encode([embedding_text(text) for _, text in chunk])
            fetch = max(self._fetch_size(k, exclude) for exclude, _ in chunk)
            neighbor_lists = self.store.nearest_sync(repo, np.asarray(vectors), fetch)
            for (exclude, text), neighbors in zip(chunk, neighbor_lists, strict=True):
                results.append(
                    self._rank(text, neighbors, exclude_id=exclude, k=k, thresholds=thresholds)
                )
        return results

    def close(self) -> None:
        """Release the store, and the embedder's worker thread if `open` created it."""
        self.store.close()
        if self._owns_embedder:
            self.embedder.close()
