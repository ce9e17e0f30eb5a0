"""Embedder on the real model: same vectors as `encode`, gathered batches, off-loop workers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from storage.embeddings import MODEL_BATCH_SIZE, Embedder, forward_passes
from storage.scripted import scripted_forward

TEXTS = [
    "app crashes when i open settings since the update",
    "pls add dark mode",
    "Export to PDF fails\n\nSteps:\n1. Open a document\n2. Choose File > Export\n" * 8,
    "崩溃 😱 on login",
    "",
]


@pytest.fixture(scope="module")
def fresh(embedder: Embedder) -> Iterator[Embedder]:
    """A second embedder over the session's model, with an empty cache."""
    own = Embedder(embedder.model, workers=2)
    yield own
    own.close()


def test_vectors_match_the_models_own_encode(fresh: Embedder) -> None:
    texts = TEXTS * 10 + [f"message number {n}" for n in range(40)]
    expected = fresh.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert fresh.scripted, "the transformer should run traced"
    got = fresh.encode(texts)
    assert got.shape == (len(texts), 384) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert fresh.encode([]).shape == (0, 384)


def test_the_eager_model_gives_the_same_vectors(fresh: Embedder) -> None:
    eager = Embedder(fresh.model, workers=1, scripted=False)
    try:
        assert not eager.scripted
        np.testing.assert_allclose(eager.encode(TEXTS), fresh.encode(TEXTS), atol=1e-5)
    finally:
        eager.close()


def test_a_model_that_cannot_be_traced_runs_eagerly(caplog: pytest.LogCaptureFixture) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    assert scripted_forward(SentenceTransformer(modules=[Pooling(384)], device="cpu")) is None
    assert "runs eagerly" in caplog.text


def test_passes_are_length_sorted_small_and_spread_over_the_workers() -> None:
    texts = [f"{'word ' * n}" for n in (3, 40, 1, 90, 7)] * 10
    passes = forward_passes(texts, 2)
    assert all(len(p) <= MODEL_BATCH_SIZE for p in passes)
    assert [len(p) for p in forward_passes(texts[:6], 2)] == [3, 3]
    assert [len(p) for p in forward_passes(texts[:1], 2)] == [1]
    assert forward_passes([], 2) == []
    flat = [t for p in passes for t in p]
    assert sorted(flat) == sorted(texts)
    assert [len(t) for t in flat] == sorted((len(t) for t in texts), reverse=True)


async def test_concurrent_callers_share_batches_off_the_loop(embedder: Embedder) -> None:
    own = Embedder(embedder.model, workers=2)
    threads: set[str] = set()
    calls: list[int] = []
    forward, cut = own._forward, own._passes

    def spy_forward(texts: list[str]) -> np.ndarray:
        threads.add(threading.current_thread().name)
        return forward(texts)

    def spy_passes(texts: list[str]) -> list[list[str]]:
        calls.append(len(texts))
        return cut(texts)

    own._forward = spy_forward  # type: ignore[method-assign]
    own._passes = spy_passes  # type: ignore[method-assign]
    texts = [f"feature request {n}: please support {n} columns" for n in range(60)]
    try:
        vectors = await asyncio.gather(*(own.embed(t) for t in texts))
    finally:
        own.close()
    np.testing.assert_allclose(
        np.stack(vectors), embedder.model.encode(texts, normalize_embeddings=True), atol=1e-5
    )
    assert sum(calls) == 60 and len(calls) < 10, "concurrent callers are gathered"
    assert threads and all(name.startswith("embedder") for name in threads)
    assert threading.current_thread().name not in threads


def test_the_cache_keeps_a_vector_per_text_not_the_text_or_its_batch(embedder: Embedder) -> None:
    import gc
    import tracemalloc

    own = Embedder(encoder=embedder.encoder, cache_size=50, idle_release_seconds=None)
    try:

        def long_texts(first: int) -> list[str]:
            return [
                f"report {n}: " + "the export dialog freezes again " * 110
                for n in range(first, first + 200)
            ]

        own.encode(long_texts(0))  # warm: the encoder's own buffers
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        own.encode(long_texts(1000))  # 200 texts of ~3,500 characters; the cache keeps 50
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    finally:
        own.close()
    vectors = 50 * 384 * 4
    # Under twice the vectors themselves; the texts alone would be 175 kB more.
    assert kept < 2 * vectors, kept
