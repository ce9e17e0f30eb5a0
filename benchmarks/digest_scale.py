"""Digest scale: `/digest` over 20,000 items, in time and peak memory, against its inputs.

Setup: 600 distinct feedback texts from the shared data are embedded once; 20,000 filed
items of one guild are stored in SQLite, each a copy of one text, and indexed as triage
indexes them (`feedback:<id>`, its source's vector nudged by noise: cosine about 0.94).

Each measurement runs in a fresh process, so its peak RSS (the process and its vector
database child, sampled every 20 ms) is its own:
  - digest:    `build_digest` over the 20,000 items (counts, oldest waiting, themes);
  - reference: reading the same inputs bare: the theme candidates' rows and their stored
               vectors, which any digest over these items has to read (same run, same data).
Then the clustering alone at 2,000 and 20,000 items, against the previous algorithm at 1,000
and 2,000 (it rebuilt every centroid per item and a full similarity matrix per merge).

Target: the digest within its themes cap (20 s) and within 3x the time of reading its inputs;
clustering time growing about linearly (20,000 / 2,000 items: under 20x).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import feedback_texts, load_model, machine_line, rss_mb, verdict

ITEMS = 20_000
TEXTS = 600
GUILD = 1
REPO = "bench/digest"
NOISE = 0.018
TARGET_INPUT_RATIO = 3.0
TARGET_GROWTH = 20.0


class PeakRss:
    """Samples the RSS of this process and its children until stopped; keeps the peak."""

    def __init__(self) -> None:
        self.baseline = rss_mb()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def _url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"


def _nudged(vectors: npt.NDArray[np.float32], rng: np.random.Generator) -> Any:
    noisy = vectors + rng.normal(scale=NOISE, size=vectors.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


async def _setup(workdir: Path) -> None:
    from sqlalchemy import insert

    from agents.dedup.documents import feedback_document
    from storage.db import Database, upgrade
    from storage.items import text_hash
    from storage.models import FeedbackItem, ItemStatus, utcnow
    from storage.vectors import VectorStore

    texts = feedback_texts(TEXTS)
    sources = np.asarray(load_model().encode(texts, batch_size=64), dtype=np.float32)
    rng = np.random.default_rng(3)
    picks = rng.integers(0, len(texts), size=ITEMS)
    await upgrade(_url(workdir))
    db = Database(_url(workdir))
    now = utcnow() - timedelta(days=1)
    rows = [
        {
            "source_kind": "channel",
            "source_key": f"bench:{n}",
            "guild_id": GUILD,
            "author_id": n,
            "raw_text": texts[pick],
            "text_hash": text_hash(texts[pick]),
            "status": ItemStatus.FILED,
            "kind": "bug",
            "severity": "medium",
            "actionable": True,
            "flow_done": True,
            "repo": REPO,
            "created_at": now,
            "updated_at": now,
        }
        for n, pick in enumerate(picks)
    ]
    await db.write(lambda conn: conn.execute(insert(FeedbackItem), rows))
    await db.close()
    store = VectorStore.open(data_dir=workdir)
    vectors = _nudged(sources[picks], rng)
    for start in range(0, ITEMS, 5000):
        chunk = range(start, min(start + 5000, ITEMS))
        documents = [feedback_document(item_id=n + 1, text=texts[picks[n]]) for n in chunk]
        store.upsert_sync(REPO, documents, vectors[start : start + len(documents)])
    store.close()
    np.save(workdir / "vectors.npy", vectors)


async def _measure(workdir: Path, phase: str) -> dict[str, float]:
    from cogs.digest._build import build_digest
    from storage.db import Database
    from storage.digest import DigestRepository
    from storage.embeddings import Embedder
    from storage.models import utcnow
    from storage.vectors import VectorStore

    db = Database(_url(workdir))
    store = await asyncio.to_thread(VectorStore.open, data_dir=workdir)
    repository = DigestRepository(db)
    until = utcnow()
    since = until - timedelta(days=7)
    await store.count(REPO)  # the vector database's process is up before measuring
    result: dict[str, float] = {}
    with PeakRss() as memory:
        started = time.perf_counter()
        if phase == "digest":
            digest = await build_digest(
                repository, Embedder(), guild_id=GUILD, since=since, until=until, index=store
            )
            result["themes"] = len(digest.themes)
            result["largest"] = digest.themes[0].count if digest.themes else 0
            result["partial"] = float(digest.themes_partial)
        else:
            candidates = await repository.theme_candidates(GUILD, since, until, limit=50_000)
            ids = [f"feedback:{c.item_id}" for c in candidates]
            found = 0
            for start in range(0, len(ids), 5000):
                found += len((await store.vectors(REPO, ids[start : start + 5000]))[0])
            result["vectors"] = found
        result["seconds"] = time.perf_counter() - started
    result["peak_mb"] = memory.peak - memory.baseline
    store.close()
    await db.close()
    return result


def _previous_cluster_themes(vectors: Any, threshold: float = 0.6) -> list[list[int]]:
    """The clustering before this change, kept here as the scaling reference."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    clusters: list[list[int]] = []
    sums: list[Any] = []
    for index, vector in enumerate(unit):
        if clusters:
            stacked = np.stack(sums)
            centroids = stacked / np.linalg.norm(stacked, axis=1, keepdims=True)
            similarities = centroids @ vector
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                clusters[best].append(index)
                sums[best] = sums[best] + vector
                continue
        clusters.append([index])
        sums.append(vector.copy())
    while len(clusters) >= 2:
        stacked = np.stack(sums)
        centroids = stacked / np.linalg.norm(stacked, axis=1, keepdims=True)
        similarities = centroids @ centroids.T
        np.fill_diagonal(similarities, -1.0)
        first, second = np.unravel_index(int(np.argmax(similarities)), similarities.shape)
        if similarities[first, second] < threshold:
            break
        keep, drop = sorted((int(first), int(second)))
        clusters[keep] = sorted(clusters[keep] + clusters[drop])
        sums[keep] = sums[keep] + sums[drop]
        del clusters[drop], sums[drop]
    return clusters


def _scaling(workdir: Path) -> dict[str, float]:
    from agents.themes import cluster_themes

    vectors = np.load(workdir / "vectors.npy")
    timings: dict[str, float] = {}
    for label, count, func in (
        ("new_2000", 2000, cluster_themes),
        ("new_20000", 20000, cluster_themes),
        ("old_1000", 1000, _previous_cluster_themes),
        ("old_2000", 2000, _previous_cluster_themes),
    ):
        started = time.perf_counter()
        func(vectors[:count])
        timings[label] = time.perf_counter() - started
    return timings


def _child(workdir: Path, phase: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=["digest", "reference", "scaling"])
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if args.phase == "scaling":
        print(json.dumps(_scaling(args.workdir)))
        return 0
    if args.phase:
        print(json.dumps(asyncio.run(_measure(args.workdir, args.phase))))
        return 0
    print(machine_line())
    with tempfile.TemporaryDirectory(prefix="digest-scale-") as tmp:
        workdir = Path(tmp)
        print(f"setting up {ITEMS:,} items from {TEXTS} texts …", flush=True)
        asyncio.run(_setup(workdir))
        reference = _child(workdir, "reference")
        digest = _child(workdir, "digest")
        scaling = _child(workdir, "scaling")
    ratio = digest["seconds"] / reference["seconds"]
    growth = scaling["new_20000"] / scaling["new_2000"]
    old_growth = scaling["old_2000"] / scaling["old_1000"]
    print(
        f"digest over {ITEMS:,} items:   {digest['seconds']:6.2f} s, "
        f"peak RSS +{digest['peak_mb']:.0f} MiB; {digest['themes']:.0f} themes, "
        f"largest {digest['largest']:.0f} items, partial: {bool(digest['partial'])}"
    )
    print(
        f"reference (its inputs, bare): {reference['seconds']:6.2f} s, "
        f"peak RSS +{reference['peak_mb']:.0f} MiB ({reference['vectors']:.0f} vectors read)"
    )
    print(f"ratio digest / reference:     {ratio:6.2f}x")
    print(
        f"clustering alone: {scaling['new_2000']:.2f} s at 2,000, {scaling['new_20000']:.2f} s "
        f"at 20,000 ({growth:.1f}x for 10x the items); previous algorithm "
        f"{scaling['old_1000']:.2f} s at 1,000, {scaling['old_2000']:.2f} s at 2,000 "
        f"({old_growth:.1f}x for 2x the items)"
    )
    ok = (
        ratio <= TARGET_INPUT_RATIO
        and growth < TARGET_GROWTH
        and not digest["partial"]
        and digest["seconds"] < 20.0
    )
    print(
        f"target: within the 20 s themes cap, <= {TARGET_INPUT_RATIO}x its inputs, "
        f"< {TARGET_GROWTH:.0f}x growth: {verdict(ok)}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
