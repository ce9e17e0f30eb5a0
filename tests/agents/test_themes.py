"""Theme clustering: similar feedback grouped, with cost and memory that stay bounded."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import numpy.typing as npt

from agents.themes import cluster_themes

DIM = 384


def _unit(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _strangers(count: int, seed: int = 0) -> npt.NDArray[np.float32]:
    """Random directions: no two are alike at any useful threshold."""
    return _unit(np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32))


def _theme(count: int, seed: int, spread: float = 0.25) -> npt.NDArray[np.float32]:
    """`count` vectors close to one random direction (cosine about 0.95 to it)."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=DIM)
    centre /= np.linalg.norm(centre)
    noise = rng.normal(size=(count, DIM)) * spread / np.sqrt(DIM)
    return _unit((centre + noise).astype(np.float32))


def _partition(clusters: list[list[int]], count: int) -> None:
    members = sorted(i for cluster in clusters for i in cluster)
    assert members == list(range(count)), "every row belongs to exactly one cluster"


def test_similar_vectors_form_themes_and_strangers_stay_alone() -> None:
    vectors = np.vstack([_theme(4, seed=1), _strangers(3, seed=2), _theme(3, seed=3)])
    clusters = cluster_themes(vectors, threshold=0.6)
    _partition(clusters, len(vectors))
    assert clusters[0] == [0, 1, 2, 3]
    assert clusters[1] == [7, 8, 9]
    assert all(len(cluster) == 1 for cluster in clusters[2:])


def test_members_beyond_the_sample_are_counted_in_their_theme() -> None:
    theme = _theme(3000, seed=4)
    vectors = np.vstack([_strangers(7000, seed=5), theme])
    clusters = cluster_themes(vectors, threshold=0.6, sample_size=200)
    _partition(clusters, len(vectors))
    assert clusters[0] == list(range(7000, 10000))
    assert len(clusters[1]) == 1


def test_memory_does_not_grow_with_the_square_of_the_items() -> None:
    vectors = _strangers(6000, seed=6)
    tracemalloc.start()
    try:
        clusters = cluster_themes(vectors, threshold=0.6)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    _partition(clusters, len(vectors))
    # Pairwise similarities of 6,000 items alone would take 144 MB.
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_a_spent_time_budget_still_gives_every_item_a_place() -> None:
    vectors = np.vstack([_theme(50, seed=7), _strangers(500, seed=8)])
    clusters = cluster_themes(vectors, threshold=0.6, deadline=time.monotonic() - 1)
    _partition(clusters, len(vectors))


def test_no_vectors_no_themes() -> None:
    assert cluster_themes(np.zeros((0, DIM), dtype=np.float32)) == []
