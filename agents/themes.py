"""Recurring themes: group similar feedback by the cosine similarity of its embeddings.

The cost is linear in the number of items: themes are found on an evenly spread sample of
at most `sample_size` items (pairwise work is bounded by the sample), then every item is
assigned to its nearest theme in fixed-size chunks. A deadline stops the work early and
returns what is known by then, so the caller's time cap holds whatever the input.
"""

from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

DEFAULT_THEME_THRESHOLD = 0.6
#: Items whose pairwise similarities are looked at; themes come from these.
DEFAULT_SAMPLE_SIZE = 1000
#: Rows compared with the themes at once in the assignment pass (bounds its memory).
ASSIGN_CHUNK = 2048

Matrix = npt.NDArray[np.float32]


def _unit(rows: Matrix) -> Matrix:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Matrix = np.divide(rows, norms, dtype=np.float32)
    return unit


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _spread(count: int, size: int) -> npt.NDArray[np.intp]:
    """Up to `size` row indices spread evenly over `count` rows (all of them if fewer)."""
    if count <= size:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, size).round().astype(np.intp))


def _seed_sums(sample: Matrix, threshold: float, deadline: float | None) -> Matrix:
    """Leader pass over the sample: each row joins the closest theme at `threshold`, or
    starts one. Returns the sum of each theme's members (their direction is its centroid).
    """
    sums = np.zeros_like(sample)
    centroids = np.zeros_like(sample)
    count = 0
    for vector in sample:
        if _past(deadline):
            break
        if count:
            similarities = centroids[:count] @ vector
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                sums[best] += vector
                centroids[best] = _unit(sums[best : best + 1])[0]
                continue
        sums[count] = centroids[count] = vector
        count += 1
    return sums[:count]


def _merged(sums: Matrix, threshold: float, deadline: float | None) -> Matrix:
    """Merge themes whose centroids are at least `threshold` alike, closest pair first."""
    count = len(sums)
    if count < 2:
        return sums
    sums = sums.copy()
    centroids = _unit(sums)
    similarities = centroids @ centroids.T
    np.fill_diagonal(similarities, -np.inf)
    alive = np.ones(count, dtype=bool)
    while not _past(deadline):
        first, second = np.unravel_index(int(np.argmax(similarities)), similarities.shape)
        if similarities[first, second] < threshold:
            break
        keep, drop = sorted((int(first), int(second)))
        sums[keep] += sums[drop]
        alive[drop] = False
        centroids[keep] = _unit(sums[keep : keep + 1])[0]
        row = centroids @ centroids[keep]
        row[~alive] = -np.inf
        row[keep] = -np.inf
        similarities[keep, :] = similarities[:, keep] = row
        similarities[drop, :] = similarities[:, drop] = -np.inf
    return sums[alive]


def _assign(unit: Matrix, centroids: Matrix, threshold: float, deadline: float | None) -> list[int]:
    """Nearest theme of each row at `threshold` or above; -1 for none (or out of time)."""
    labels = [-1] * len(unit)
    if len(centroids) == 0:
        return labels
    for start in range(0, len(unit), ASSIGN_CHUNK):
        if _past(deadline):
            break
        similarities = unit[start : start + ASSIGN_CHUNK] @ centroids.T
        best = np.argmax(similarities, axis=1)
        good = similarities[np.arange(len(best)), best] >= threshold
        for offset in np.flatnonzero(good):
            labels[start + int(offset)] = int(best[offset])
    return labels


def cluster_themes(
    vectors: Matrix,
    *,
    threshold: float = DEFAULT_THEME_THRESHOLD,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    deadline: float | None = None,
) -> list[list[int]]:
    """Group rows whose embeddings are alike; cost linear in the rows, memory bounded.

    Themes are seeded on an evenly spread sample (a leader pass, then themes whose
    centroids reach `threshold` are merged, the closest pair first); every row then joins
    its nearest theme if the similarity reaches `threshold`. Blocking and CPU-bound: call
    it off the event loop.

    Args:
        vectors: Embeddings, shape (n, d) (normalised here).
        threshold: Cosine similarity needed to join or merge.
        sample_size: How many rows seed the themes.
        deadline: A `time.monotonic()` moment after which the work stops; rows not placed
            by then stay on their own.

    Returns:
        Every row index exactly once, as clusters largest first (ties: earliest member
        first); rows that joined no theme are clusters of one.
    """
    if len(vectors) == 0:
        return []
    unit = _unit(np.asarray(vectors, dtype=np.float32))
    sums = _seed_sums(unit[_spread(len(unit), sample_size)], threshold, deadline)
    centroids = _unit(_merged(sums, threshold, deadline))
    members: dict[int, list[int]] = {}
    clusters: list[list[int]] = []
    for row, label in enumerate(_assign(unit, centroids, threshold, deadline)):
        if label < 0:
            clusters.append([row])
        else:
            members.setdefault(label, []).append(row)
    clusters.extend(members.values())
    return sorted(clusters, key=lambda group: (-len(group), group[0]))
