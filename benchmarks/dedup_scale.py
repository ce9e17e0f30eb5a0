"""Duplicate-index scale: import throughput against bare `model.encode`, query latency and RSS.

Throughput: the same unique issue texts are encoded bare (`model.encode`, same batch size)
and imported (`DuplicateIndex.import_documents`: embedding + chromadb upsert), batch by
batch in alternating order, in one run; the ratio is import speed over bare speed.

Scale: the unique texts' embeddings are reused for 10k/100k documents. Each copy gets a
unit vector nudged by Gaussian noise (cosine about 0.9 to its source) and a text with a
random tenth of its words dropped, so the index holds many near neighbours, which is harder
than distinct texts. Queries are further perturbed copies. Latency is reported for the
index alone (chromadb search + lexical re-rank, query vector given) and end to end
(`await index.find(...)`, which also embeds the query with the model).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.dedup.documents import document_text, imported_document
from agents.dedup.finder import DuplicateIndex
from agents.dedup.scoring import CANDIDATE_POOL, combined_scores
from benchmarks._common import rss_mb
from storage.embeddings import DEFAULT_BATCH_SIZE, Embedder
from storage.vectors import StoredDocument, VectorStore

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REPO = "bench/scale"
TARGET_THROUGHPUT_RATIO = 0.80
TARGET_P99_MS = 50.0
_NOISE = 0.018  # per-dimension sigma: cosine of a copy to its source is about 0.94
_WRITE_BATCH = 5000


def issue_texts(data: Path, limit: int) -> list[str]:
    """Up to `limit` distinct issue texts from the shared OpenOffice and NLBSE data."""
    texts: list[str] = []
    csv.field_size_limit(2**30)
    with (data / "nlbse24_issues_train.csv").open(encoding="utf-8", newline="") as stream:
        texts += [document_text(row["title"], row["body"]) for row in csv.DictReader(stream)]
    with (data / "openoffice_dups_corpus.jsonl").open(encoding="utf-8") as stream:
        for line in stream:
            row = json.loads(line)
            texts.append(document_text(row["title"], row["body"]))
    unique = list(dict.fromkeys(t for t in texts if t.strip()))
    rng = np.random.default_rng(7)
    return [unique[i] for i in rng.permutation(len(unique))[:limit]]


def measure_throughput(
    embedder: Embedder, texts: Sequence[str], batch_size: int
) -> tuple[float, float, np.ndarray]:
    """Seconds for bare encoding and for importing `texts`, and the bare embeddings."""
    model = embedder.model
    model.encode(list(texts[:batch_size]), batch_size=batch_size, normalize_embeddings=True)
    bare_seconds = import_seconds = 0.0
    vectors = []
    with tempfile.TemporaryDirectory(prefix="dedup-throughput-") as tmp:
        index = DuplicateIndex(VectorStore.open(data_dir=Path(tmp), embedder=embedder), embedder)
        for number, start in enumerate(range(0, len(texts), batch_size)):
            batch = list(texts[start : start + batch_size])
            docs = [StoredDocument(id=f"t{start + i}", text=t) for i, t in enumerate(batch)]
            steps = ["bare", "import"] if number % 2 == 0 else ["import", "bare"]
            for step in steps:
                began = time.perf_counter()
                if step == "bare":
                    vectors.append(
                        model.encode(
                            batch,
                            batch_size=batch_size,
                            normalize_embeddings=True,
                            convert_to_numpy=True,
                            show_progress_bar=False,
                        )
                    )
                    bare_seconds += time.perf_counter() - began
                else:
                    index.import_documents(REPO, docs, batch_size=batch_size)
                    import_seconds += time.perf_counter() - began
    return bare_seconds, import_seconds, np.vstack(vectors).astype(np.float32)


def perturb_text(text: str, rng: np.random.Generator, drop: float = 0.1) -> str:
    """`text` with a random share `drop` of its words removed."""
    words = text.split()
    keep = rng.random(len(words)) >= drop
    return " ".join(w for w, k in zip(words, keep, strict=True) if k) or text


def perturb_vectors(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors near `vectors`."""
    noisy = vectors + rng.normal(0.0, _NOISE, vectors.shape).astype(np.float32)
    unit: np.ndarray = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
    return unit


def percentiles(samples: Sequence[float]) -> str:
    """p50 / p99 in milliseconds."""
    values = np.array(samples) * 1000
    return f"p50 {np.percentile(values, 50):6.1f} ms  p99 {np.percentile(values, 99):6.1f} ms"


def measure_scale(
    embedder: Embedder,
    texts: Sequence[str],
    vectors: np.ndarray,
    size: int,
    queries: int,
) -> dict[str, float]:
    """Build a store of `size` documents and time `queries` lookups against it."""
    rng = np.random.default_rng(size)
    before = rss_mb()
    with tempfile.TemporaryDirectory(prefix=f"dedup-scale-{size}-") as tmp:
        store = VectorStore.open(data_dir=Path(tmp), embedder=embedder)
        index = DuplicateIndex(store, embedder)
        began = time.perf_counter()
        for start in range(0, size, _WRITE_BATCH):
            rows = np.arange(start, min(size, start + _WRITE_BATCH)) % len(texts)
            docs = [
                imported_document(
                    doc_id=str(start + i), title="", body=perturb_text(texts[int(row)], rng)
                )
                for i, row in enumerate(rows)
            ]
            store.upsert_sync(REPO, docs, perturb_vectors(vectors[rows], rng))
        build_seconds = time.perf_counter() - began
        built_rss = rss_mb()

        picks = rng.integers(0, len(texts), queries)
        query_texts = [perturb_text(texts[int(p)], rng, drop=0.2) for p in picks]
        query_vectors = perturb_vectors(vectors[picks], rng)
        search, rerank, total = [], [], []
        for text, vector in zip(query_texts, query_vectors, strict=True):
            t0 = time.perf_counter()
            (neighbors,) = store.nearest_sync(REPO, vector.reshape(1, -1), CANDIDATE_POOL)
            t1 = time.perf_counter()
            combined_scores(text, [n.similarity for n in neighbors], [n.text for n in neighbors])
            t2 = time.perf_counter()
            search.append(t1 - t0)
            rerank.append(t2 - t1)
            total.append(t2 - t0)

        async def end_to_end() -> list[float]:
            await index.find(query_texts[0], repo=REPO)
            timings = []
            for text in query_texts:
                start = time.perf_counter()
                await index.find(text + " (again)", repo=REPO)
                timings.append(time.perf_counter() - start)
            return timings

        full = asyncio.run(end_to_end())
        after = rss_mb()
    print(f"\n{size:,} documents: built in {build_seconds:.1f}s")
    print(f"  index only  (search + re-rank): {percentiles(total)}")
    print(f"    chromadb search top-{CANDIDATE_POOL}:      {percentiles(search)}")
    print(f"    lexical re-rank:              {percentiles(rerank)}")
    print(f"  end to end  (embed + find):     {percentiles(full)}")
    print(f"  RSS: {before:.0f} MiB before, {built_rss:.0f} after build, {after:.0f} after queries")
    return {"p99_index_ms": float(np.percentile(total, 99) * 1000)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the throughput comparison and the scale runs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="shared data directory")
    parser.add_argument("--unique", type=int, default=512, help="distinct texts to embed")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--queries", type=int, default=300, help="queries per scale")
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000], help="index sizes (e.g. 10000 100000)"
    )
    args = parser.parse_args(argv)
    texts = issue_texts(args.data, args.unique)
    embedder = Embedder(batch_size=args.batch_size)
    print(f"python {sys.version.split()[0]}, {len(texts)} unique texts, batch {args.batch_size}")
    bare, imported, vectors = measure_throughput(embedder, texts, args.batch_size)
    ratio = bare / imported
    print(
        f"\nimport throughput: bare model.encode {len(texts) / bare:.1f} docs/s, "
        f"import (embed + upsert) {len(texts) / imported:.1f} docs/s, "
        f"ratio {ratio:.2f} (target >= {TARGET_THROUGHPUT_RATIO})"
    )
    worst_p99 = max(
        measure_scale(embedder, texts, vectors, size, args.queries)["p99_index_ms"]
        for size in args.sizes
    )
    embedder.close()
    ok = ratio >= TARGET_THROUGHPUT_RATIO and worst_p99 < TARGET_P99_MS
    print(
        f"\ntargets: throughput ratio {ratio:.2f} >= {TARGET_THROUGHPUT_RATIO}, index-only "
        f"p99 {worst_p99:.1f} ms < {TARGET_P99_MS} ms -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
