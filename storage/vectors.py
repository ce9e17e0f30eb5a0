"""The vector store: one chromadb collection of embedded documents per target repository."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt

from storage.embeddings import ChromaEmbeddingFunction, Embedder

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

MetadataValue = str | int | float | bool
Matrix = npt.NDArray[np.float32]

#: Directory under DATA_DIR that holds the embedded chromadb database.
CHROMA_DIRNAME = "chroma"
_COLLECTION_PREFIX = "is"
_SLUG_CHARS = 40


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document as the store keeps it: id, the text that was embedded, flat metadata."""

    id: str
    text: str
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Neighbor:
    """A stored document near a query, with its cosine similarity in [-1, 1]."""

    id: str
    similarity: float
    text: str
    metadata: Mapping[str, MetadataValue]


def collection_name(repo: str) -> str:
    """A valid, collision-free chromadb collection name for `owner/repo` (case-insensitive).

    Args:
        repo: Repository full name, e.g. `octo/widgets`.

    Returns:
        `is-<readable slug>-<hash>`: only `[a-z0-9-]`, starting and ending alphanumeric.
    """
    key = repo.strip().lower()
    if not key:
        raise ValueError("repository name is empty")
    slug = re.sub(r"[^a-z0-9]+", "-", key).strip("-")[:_SLUG_CHARS].strip("-") or "repo"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{_COLLECTION_PREFIX}-{slug}-{digest}"


@cache
def shared_embedder() -> Embedder:
    """One `Embedder` per process for command-line tools (the model loads on first use)."""
    return Embedder()


def _clean_metadata(metadata: Mapping[str, Any]) -> dict[str, MetadataValue]:
    return {k: v for k, v in metadata.items() if isinstance(v, str | int | float | bool)}


def _http_client(url: str, settings: Any) -> ClientAPI:
    import chromadb

    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"CHROMA_URL must look like http://host:port, got {url!r}")
    ssl = parsed.scheme == "https"
    port = parsed.port or (443 if ssl else 8000)
    return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=ssl, settings=settings)


class VectorStore:
    """Documents and their embeddings in chromadb, one collection per repository.

    Methods ending in `_sync` block (scripts, worker threads); the coroutines of the same
    name run them on a worker thread so the event loop never waits on chromadb.
    Embeddings are normally passed in precomputed; otherwise the store's `Embedder` makes them.
    """

    def __init__(self, client: ClientAPI, embedder: Embedder, *, location: str) -> None:
        self._client = client
        self._embedder = embedder
        self._embedding_function = ChromaEmbeddingFunction(embedder)
        self._collections: dict[str, Collection] = {}
        self._lock = threading.Lock()
        self.location = location

    @classmethod
    def open(
        cls, *, data_dir: Path, url: str | None = None, embedder: Embedder | None = None
    ) -> VectorStore:
        """Connect to chromadb: a server at `url` if given, else the database under `data_dir`.

        Args:
            data_dir: DATA_DIR; the embedded database lives in `data_dir/chroma`.
            url: CHROMA_URL of a chromadb server (`http://host:port`), or None.
            embedder: Makes embeddings the caller did not pass (default: a lazy `Embedder`).

        Returns:
            The open store. Blocking: call it via `asyncio.to_thread` from async code.
        """
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if url:
            client = _http_client(url, chroma_settings)
            location = url
        else:
            path = Path(data_dir) / CHROMA_DIRNAME
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            location = str(path.resolve())
        log.info("vector store at %s", location)
        return cls(client, embedder or Embedder(), location=location)

    def _collection(self, repo: str, *, create: bool) -> Collection | None:
        name = collection_name(repo)
        with self._lock:
            cached = self._collections.get(name)
            if cached is not None:
                return cached
            ef: Any = self._embedding_function
            if create:
                collection = self._client.get_or_create_collection(
                    name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"repo": repo.strip().lower()},
                    embedding_function=ef,
                )
            else:
                from chromadb.errors import NotFoundError

                try:
                    collection = self._client.get_collection(name, embedding_function=ef)
                except NotFoundError:
                    return None
            self._collections[name] = collection
            return collection

    def upsert_sync(
        self, repo: str, documents: Sequence[StoredDocument], embeddings: Matrix | None = None
    ) -> None:
        """Insert or replace `documents` (by id) in `repo`'s collection.

        Args:
            repo: Repository full name.
            documents: Documents to write; a repeated id keeps its last occurrence.
            embeddings: Unit vectors, one row per document; computed when None.
        """
        if not documents:
            return
        if embeddings is None:
            embeddings = self._embedder.encode([doc.text for doc in documents])
        if len(embeddings) != len(documents):
            raise ValueError("need exactly one embedding per document")
        last = {doc.id: row for row, doc in enumerate(documents)}
        rows = sorted(last.values())
        collection = self._collection(repo, create=True)
        assert collection is not None
        step = max(1, self._client.get_max_batch_size())
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            collection.upsert(
                ids=[documents[r].id for r in chunk],
                embeddings=np.asarray(embeddings[chunk], dtype=np.float32),
                documents=[documents[r].text for r in chunk],
                metadatas=[_clean_metadata(documents[r].metadata) or {"kind": ""} for r in chunk],
            )

    def nearest_sync(self, repo: str, embeddings: Matrix, n: int) -> list[list[Neighbor]]:
        """The `n` nearest documents to each query embedding, most similar first.

        Args:
            repo: Repository full name; a repository with no collection yields no neighbors.
            embeddings: Query unit vectors, shape (queries, 384).
            n: How many neighbors per query.

        Returns:
            One list per query row.
        """
        if len(embeddings) == 0:
            return []
        collection = self._collection(repo, create=False)
        if collection is None or n <= 0:
            return [[] for _ in range(len(embeddings))]
        result = collection.query(
            query_embeddings=np.asarray(embeddings, dtype=np.float32),
            n_results=n,
            include=["documents", "metadatas", "distances"],
        )
        documents = result["documents"] or []
        metadatas = result["metadatas"] or []
        distances = result["distances"] or []
        out: list[list[Neighbor]] = []
        for ids, docs, metas, dists in zip(
            result["ids"], documents, metadatas, distances, strict=True
        ):
            out.append(
                [
                    Neighbor(
                        id=doc_id,
                        similarity=1.0 - float(distance),
                        text=text or "",
                        metadata=_clean_metadata(meta or {}),
                    )
                    for doc_id, text, meta, distance in zip(ids, docs, metas, dists, strict=True)
                ]
            )
        return out

    def get_sync(self, repo: str, ids: Sequence[str]) -> dict[str, StoredDocument]:
        """The stored documents among `ids`, by id (missing ids are left out)."""
        collection = self._collection(repo, create=False)
        if collection is None or not ids:
            return {}
        result = collection.get(ids=list(ids), include=["documents", "metadatas"])
        documents = result["documents"] or []
        metadatas = result["metadatas"] or []
        return {
            doc_id: StoredDocument(id=doc_id, text=text or "", metadata=_clean_metadata(meta or {}))
            for doc_id, text, meta in zip(result["ids"], documents, metadatas, strict=True)
        }

    def count_sync(self, repo: str) -> int:
        """How many documents `repo`'s collection holds (0 when it does not exist)."""
        collection = self._collection(repo, create=False)
        return 0 if collection is None else int(collection.count())

    def delete_sync(self, repo: str, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        collection = self._collection(repo, create=False)
        if collection is not None and ids:
            collection.delete(ids=list(ids))

    def repositories_sync(self) -> list[str]:
        """Repository names that have a collection, sorted."""
        names = []
        for collection in self._client.list_collections():
            repo = (collection.metadata or {}).get("repo")
            if isinstance(repo, str) and collection.name.startswith(f"{_COLLECTION_PREFIX}-"):
                names.append(repo)
        return sorted(names)

    async def upsert(
        self, repo: str, documents: Sequence[StoredDocument], embeddings: Matrix | None = None
    ) -> None:
        """`upsert_sync` off the event loop (embeddings made on the embedder's worker)."""
        if embeddings is None and documents:
            embeddings = await self._embedder.encode_async([doc.text for doc in documents])
        await asyncio.to_thread(self.upsert_sync, repo, list(documents), embeddings)

    async def nearest(self, repo: str, embeddings: Matrix, n: int) -> list[list[Neighbor]]:
        """`nearest_sync` off the event loop."""
        return await asyncio.to_thread(self.nearest_sync, repo, embeddings, n)

    async def get(self, repo: str, ids: Sequence[str]) -> dict[str, StoredDocument]:
        """`get_sync` off the event loop."""
        return await asyncio.to_thread(self.get_sync, repo, list(ids))

    async def count(self, repo: str) -> int:
        """`count_sync` off the event loop."""
        return await asyncio.to_thread(self.count_sync, repo)

    async def delete(self, repo: str, ids: Sequence[str]) -> None:
        """`delete_sync` off the event loop."""
        await asyncio.to_thread(self.delete_sync, repo, list(ids))
