"""The vector store: one chromadb collection of embedded documents per target repository."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from storage.chroma import (
    Backend,
    ChromaCollections,
    InProcess,
    Matrix,
    MetadataValue,
    Neighbor,
    StoredDocument,
    collection_name,
    http_client,
    repository_key,
)
from storage.chroma_worker import WorkerProcess
from storage.embeddings import Embedder

__all__ = [
    "CHROMA_DIRNAME",
    "Matrix",
    "MetadataValue",
    "Neighbor",
    "StoredDocument",
    "VectorStore",
    "collection_name",
    "repository_key",
    "shared_embedder",
]

log = logging.getLogger(__name__)

#: Directory under DATA_DIR that holds the embedded chromadb database.
CHROMA_DIRNAME = "chroma"


@cache
def shared_embedder() -> Embedder:
    """One `Embedder` per process for command-line tools (the model loads on first use)."""
    return Embedder()


class VectorStore:
    """Documents and their embeddings in chromadb, one collection per repository.

    Methods ending in `_sync` block (scripts, worker threads); the coroutines of the same
    name run them on a worker thread so the event loop never waits on chromadb. The
    embedded database is served by a child process (`storage.chroma_worker.WorkerProcess`), a
    chromadb server over HTTP. Embeddings are made here, normally passed in precomputed;
    otherwise the store's `Embedder` makes them.
    """

    def __init__(
        self, backend: Backend, embedder: Embedder, *, location: str, model: str | None = None
    ) -> None:
        self._backend = backend
        self._embedder = embedder
        self.location = location
        self._model = model

    @property
    def model(self) -> str:
        """Tag of the vectors this store writes: its embedder's model and runtime.

        Blocking the first time (it may load the model): read it off the event loop.
        """
        return self._model or self._embedder.vector_tag

    @classmethod
    def open(
        cls,
        *,
        data_dir: Path,
        url: str | None = None,
        embedder: Embedder | None = None,
        model: str | None = None,
    ) -> VectorStore:
        """Connect to chromadb: a server at `url` if given, else the database under `data_dir`.

        Args:
            data_dir: DATA_DIR; the embedded database lives in `data_dir/chroma`.
            url: CHROMA_URL of a chromadb server (`http://host:port`), or None.
            embedder: Makes embeddings the caller did not pass (default: a lazy `Embedder`).
            model: Tag of the vectors (default: the embedder's `vector_tag`).

        Returns:
            The open store. Blocking: call it via `asyncio.to_thread` from async code.
        """
        backend: Backend
        if url:
            backend = InProcess(ChromaCollections(http_client(url)))
            location = url
        else:
            path = Path(data_dir) / CHROMA_DIRNAME
            path.mkdir(parents=True, exist_ok=True)
            location = str(path.resolve())
            backend = WorkerProcess(location)
        try:
            backend.call("ping")
        except BaseException:
            backend.close()
            raise
        log.info("vector store at %s", location)
        return cls(backend, embedder or Embedder(), location=location, model=model)

    def close(self) -> None:
        """Release chromadb (the embedded database's process stops after pending writes)."""
        self._backend.close()

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
        self._backend.call(
            "upsert", repo, list(documents), np.asarray(embeddings, dtype=np.float32), self.model
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
        result: list[list[Neighbor]] = self._backend.call(
            "nearest", repo, np.asarray(embeddings, dtype=np.float32), n
        )
        return result

    def get_sync(self, repo: str, ids: Sequence[str]) -> dict[str, StoredDocument]:
        """The stored documents among `ids`, by id (missing ids are left out)."""
        if not ids:
            return {}
        result: dict[str, StoredDocument] = self._backend.call("get", repo, list(ids))
        return result

    def vectors_sync(self, repo: str, ids: Sequence[str]) -> tuple[list[str], Matrix]:
        """The stored embeddings of those `ids` that exist: (their ids, one row each)."""
        if not ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        found, matrix = self._backend.call("vectors", repo, list(ids))
        return list(found), np.asarray(matrix, dtype=np.float32)

    def count_sync(self, repo: str) -> int:
        """How many documents `repo`'s collection holds (0 when it does not exist)."""
        return int(self._backend.call("count", repo))

    def delete_sync(self, repo: str, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        if ids:
            self._backend.call("delete", repo, list(ids))

    def ids_sync(self, repo: str) -> list[str]:
        """Every document id in `repo`'s collection (empty when it does not exist)."""
        return list(self._backend.call("ids", repo))

    def repositories_sync(self) -> list[str]:
        """Repository names that have a collection, sorted."""
        return list(self._backend.call("repositories"))

    def stale_repositories_sync(self) -> list[str]:
        """Repositories whose collection holds another embedding model's vectors."""
        return list(self._backend.call("stale", self.model))

    async def reembed_stale(self, batch_size: int = 256) -> int:
        """Embed again, with this store's model, every collection another model made.

        The stored texts are embedded again, so nothing is fetched from GitHub. A collection
        is tagged with the new model only once all its documents are done: a process stopped
        halfway starts over at the next start-up.

        Returns:
            How many documents were embedded again.
        """
        done = 0
        for repo in await asyncio.to_thread(self.stale_repositories_sync):
            ids = await self.ids(repo)
            log.info("embedding %d documents of %s again for model %s", len(ids), repo, self.model)
            for start in range(0, len(ids), batch_size):
                documents = list((await self.get(repo, ids[start : start + batch_size])).values())
                await self.upsert(repo, documents)
                done += len(documents)
            await asyncio.to_thread(self._backend.call, "retag", repo, self.model)
        return done

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

    async def vectors(self, repo: str, ids: Sequence[str]) -> tuple[list[str], Matrix]:
        """`vectors_sync` off the event loop."""
        return await asyncio.to_thread(self.vectors_sync, repo, list(ids))

    async def ids(self, repo: str) -> list[str]:
        """`ids_sync` off the event loop."""
        return await asyncio.to_thread(self.ids_sync, repo)

    async def repositories(self) -> list[str]:
        """`repositories_sync` off the event loop."""
        return await asyncio.to_thread(self.repositories_sync)

    async def count(self, repo: str) -> int:
        """`count_sync` off the event loop."""
        return await asyncio.to_thread(self.count_sync, repo)

    async def delete(self, repo: str, ids: Sequence[str]) -> None:
        """`delete_sync` off the event loop."""
        await asyncio.to_thread(self.delete_sync, repo, list(ids))
