"""chromadb collections: the operations the vector store runs, wherever chromadb lives.

The embedded database runs in a child process of its own (`storage.chroma_worker`); a
chromadb server (`CHROMA_URL`) is reached over HTTP from the bot's own process.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt

from storage.embeddings import DIMENSIONS, ChromaEmbeddingFunction, Embedder
from storage.memory import return_free_memory

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

MetadataValue = str | int | float | bool
Matrix = npt.NDArray[np.float32]

_COLLECTION_PREFIX = "is"
#: Longest wait for one operation of the embedded database before its process is replaced.
CALL_TIMEOUT_SECONDS = 30.0
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


def repository_key(repo: str) -> str:
    """How a repository is keyed in the index: `owner/repo`, trimmed and lower-cased."""
    return repo.strip().lower()


def collection_name(repo: str) -> str:
    """A valid, collision-free chromadb collection name for `owner/repo` (case-insensitive).

    Args:
        repo: Repository full name, e.g. `octo/widgets`.

    Returns:
        `is-<readable slug>-<hash>`: only `[a-z0-9-]`, starting and ending alphanumeric.
    """
    key = repository_key(repo)
    if not key:
        raise ValueError("repository name is empty")
    slug = re.sub(r"[^a-z0-9]+", "-", key).strip("-")[:_SLUG_CHARS].strip("-") or "repo"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{_COLLECTION_PREFIX}-{slug}-{digest}"


def clean_metadata(metadata: Mapping[str, Any]) -> dict[str, MetadataValue]:
    """Only the scalar values chromadb can store."""
    return {k: v for k, v in metadata.items() if isinstance(v, str | int | float | bool)}


def _collection_metadata(repo: str, model: str) -> dict[str, MetadataValue]:
    """What a collection records about itself: its repository and its embedding model's tag."""
    return {"repo": repository_key(repo), "model": model}


def _chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def http_client(url: str) -> ClientAPI:
    """A chromadb `HttpClient` for `CHROMA_URL`.

    Raises:
        ValueError: The URL is not `http(s)://host[:port]`.
    """
    import chromadb

    parsed = urlparse(url if "://" in url else f"http://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"CHROMA_URL must look like http://host:port, got {url!r}")
    ssl = parsed.scheme == "https"
    port = parsed.port or (443 if ssl else 8000)
    return chromadb.HttpClient(
        host=parsed.hostname, port=port, ssl=ssl, settings=_chroma_settings()
    )


def persistent_client(path: str) -> ClientAPI:
    """The embedded chromadb database at `path`."""
    import chromadb

    return chromadb.PersistentClient(path=path, settings=_chroma_settings())


class ChromaCollections:
    """The operations on one chromadb client, one collection per repository.

    Every embedding is given by the caller: the embedding function passed to chromadb is
    ours (its default would download a model) and is never asked to embed.
    """

    def __init__(self, client: ClientAPI) -> None:
        self._client = client
        self._embedding_function = ChromaEmbeddingFunction(Embedder())
        self._collections: dict[str, Collection] = {}
        self._lock = threading.Lock()

    def _collection(self, repo: str, *, create: bool, model: str = "") -> Collection | None:
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
                    metadata=_collection_metadata(repo, model),
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

    def ping(self) -> bool:
        """True once the client answers."""
        self._client.heartbeat()
        return True

    def upsert(
        self, repo: str, documents: Sequence[StoredDocument], embeddings: Matrix, model: str
    ) -> None:
        """Insert or replace `documents`, one embedding row each; a repeated id keeps its last.

        A collection created here is tagged with `model`, the tag of the embedding model.
        """
        last = {doc.id: row for row, doc in enumerate(documents)}
        rows = sorted(last.values())
        collection = self._collection(repo, create=True, model=model)
        assert collection is not None
        step = max(1, self._client.get_max_batch_size())
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            collection.upsert(
                ids=[documents[r].id for r in chunk],
                embeddings=np.asarray(embeddings[chunk], dtype=np.float32),
                documents=[documents[r].text for r in chunk],
                metadatas=[clean_metadata(documents[r].metadata) or {"kind": ""} for r in chunk],
            )

    def nearest(self, repo: str, embeddings: Matrix, n: int) -> list[list[Neighbor]]:
        """The `n` nearest documents to each query row, most similar first."""
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
        return [
            [
                Neighbor(
                    id=doc_id,
                    similarity=1.0 - float(distance),
                    text=text or "",
                    metadata=clean_metadata(meta or {}),
                )
                for doc_id, text, meta, distance in zip(ids, docs, metas, dists, strict=True)
            ]
            for ids, docs, metas, dists in zip(
                result["ids"], documents, metadatas, distances, strict=True
            )
        ]

    def get(self, repo: str, ids: Sequence[str]) -> dict[str, StoredDocument]:
        """The stored documents among `ids`, by id."""
        collection = self._collection(repo, create=False)
        if collection is None or not ids:
            return {}
        result = collection.get(ids=list(ids), include=["documents", "metadatas"])
        documents = result["documents"] or []
        metadatas = result["metadatas"] or []
        return {
            doc_id: StoredDocument(id=doc_id, text=text or "", metadata=clean_metadata(meta or {}))
            for doc_id, text, meta in zip(result["ids"], documents, metadatas, strict=True)
        }

    def vectors(self, repo: str, ids: Sequence[str]) -> tuple[list[str], Matrix]:
        """The stored embeddings of those `ids` that exist: (their ids, one row each)."""
        collection = self._collection(repo, create=False)
        found: list[str] = []
        rows: list[Any] = []
        step = max(1, self._client.get_max_batch_size())
        for start in range(0, len(ids) if collection is not None else 0, step):
            assert collection is not None
            result = collection.get(ids=list(ids[start : start + step]), include=["embeddings"])
            found.extend(result["ids"])
            rows.extend(result["embeddings"] if result["embeddings"] is not None else [])
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return found, np.asarray(rows, dtype=np.float32)

    def count(self, repo: str) -> int:
        """How many documents `repo`'s collection holds (0 when it does not exist)."""
        collection = self._collection(repo, create=False)
        return 0 if collection is None else int(collection.count())

    def delete(self, repo: str, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        collection = self._collection(repo, create=False)
        if collection is not None and ids:
            collection.delete(ids=list(ids))

    def _tags(self) -> dict[str, str]:
        """Embedding-model tag of each repository's collection ("" when untagged)."""
        tags = {}
        for collection in self._client.list_collections():
            metadata = collection.metadata or {}
            repo = metadata.get("repo")
            if isinstance(repo, str) and collection.name.startswith(f"{_COLLECTION_PREFIX}-"):
                tags[repo] = str(metadata.get("model") or "")
        return tags

    def repositories(self) -> list[str]:
        """Repository names that have a collection, sorted."""
        return sorted(self._tags())

    def stale(self, model: str) -> list[str]:
        """Repositories whose vectors another embedding model made than the one tagged `model`."""
        return sorted(repo for repo, tag in self._tags().items() if tag != model)

    def ids(self, repo: str) -> list[str]:
        """Every document id in `repo`'s collection."""
        collection = self._collection(repo, create=False)
        if collection is None:
            return []
        ids: list[str] = []
        step = max(1, self._client.get_max_batch_size())
        while True:
            page = collection.get(include=[], limit=step, offset=len(ids))["ids"]
            ids.extend(page)
            if len(page) < step:
                return ids

    def warm(self) -> None:
        """Load every collection's index, as the first search in it would."""
        probe = np.zeros((1, DIMENSIONS), dtype=np.float32)
        probe[0, 0] = 1.0
        for repo in self.repositories():
            collection = self._collection(repo, create=False)
            if collection is not None and collection.count():
                collection.query(query_embeddings=probe, n_results=1, include=[])

    def release_memory(self) -> bool:
        """Hand this process's free heap pages back to the system (after writes)."""
        return return_free_memory()

    def retag(self, repo: str, model: str) -> None:
        """Record that every vector of `repo`'s collection is now `model`'s."""
        collection = self._collection(repo, create=False)
        if collection is not None:
            collection.modify(metadata=_collection_metadata(repo, model))


class Backend(Protocol):
    """Runs a `ChromaCollections` method by name, wherever the collections live."""

    def call(self, method: str, *args: Any) -> Any:
        """The method's result (blocking)."""
        ...

    def close(self) -> None:
        """Release the backend."""
        ...


class InProcess:
    """`ChromaCollections` in this process (the HTTP client to a chromadb server)."""

    def __init__(self, collections: ChromaCollections) -> None:
        self._collections = collections

    def call(self, method: str, *args: Any) -> Any:
        """Run it here."""
        return getattr(self._collections, method)(*args)

    def close(self) -> None:
        """Nothing to release."""
