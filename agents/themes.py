"""Recurring themes: group similar feedback by the cosine similarity of its embeddings."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DEFAULT_THEME_THRESHOLD = 0.6


def _unit(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: npt.NDArray[np.float32] = (rows / norms).astype(np.float32)
    return unit


def cluster_themes(
    vectors: npt.NDArray[np.float32], *, threshold: float = DEFAULT_THEME_THRESHOLD
) -> list[list[int]]:
    """Greedy agglomerative clustering: members join the closest centroid at `threshold` or above.

    Each vector joins the most similar existing cluster centroid if the cosine similarity
    reaches `threshold`, else starts a cluster; then clusters whose centroids are at least
    `threshold` apart are merged, the closest pair first, until none qualifies.
    Blocking and CPU-bound: call it off the event loop.

    Args:
        vectors: Embeddings, shape (n, d) (normalised here).
        threshold: Cosine similarity needed to join or merge.

    Returns:
        Clusters as lists of row indices, largest first (ties: earliest member first).
    """
    if len(vectors) == 0:
        return []
    unit = _unit(np.asarray(vectors, dtype=np.float32))
    clusters: list[list[int]] = []
    sums: list[npt.NDArray[np.float32]] = []
    for index, vector in enumerate(unit):
        if clusters:
            centroids = _unit(np.stack(sums))
            similarities = centroids @ vector
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                clusters[best].append(index)
                sums[best] = sums[best] + vector
                continue
        clusters.append([index])
        sums.append(vector.copy())
    while len(clusters) >= 2:
        centroids = _unit(np.stack(sums))
        similarities = centroids @ centroids.T
        np.fill_diagonal(similarities, -1.0)
        first, second = np.unravel_index(int(np.argmax(similarities)), similarities.shape)
        if similarities[first, second] < threshold:
            break
        keep, drop = sorted((int(first), int(second)))
        clusters[keep] = sorted(clusters[keep] + clusters[drop])
        sums[keep] = sums[keep] + sums[drop]
        del clusters[drop], sums[drop]
    return sorted(clusters, key=lambda members: (-len(members), members[0]))
