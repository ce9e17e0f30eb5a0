"""Duplicate-detection quality on OpenOffice duplicate pairs: dense-only against hybrid scoring."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.dedup.documents import document_text, imported_document
from agents.dedup.finder import DuplicateIndex
from agents.dedup.scoring import (
    DEFAULT_DUPLICATE_THRESHOLD,
    DEFAULT_POSSIBLE_THRESHOLD,
    DEFAULT_THRESHOLDS,
    Scoring,
)
from agents.dedup.types import DuplicateResult
from storage.embeddings import Embedder
from storage.vectors import VectorStore

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REPO = "bench/openoffice"
MAX_FALSE_DUPLICATE_RATE = 0.05
TARGET_RECALL_AT_10 = 0.75


@dataclass(frozen=True)
class Quality:
    """Ranking and threshold metrics of one scoring over the duplicate queries."""

    recall: dict[int, float]
    mrr: float
    top_scores: np.ndarray
    top_is_master: np.ndarray

    def false_duplicate_rate(self, threshold: float) -> float:
        """Share of queries whose top match scores >= threshold but is not the master."""
        return float(np.mean((self.top_scores >= threshold) & ~self.top_is_master))

    def caught(self, threshold: float) -> float:
        """Share of queries whose top match scores >= threshold and is the master."""
        return float(np.mean((self.top_scores >= threshold) & self.top_is_master))

    def calibrated_threshold(self, limit: float = MAX_FALSE_DUPLICATE_RATE) -> float:
        """Lowest threshold (step 0.01) whose false-duplicate rate is below `limit`."""
        for threshold in np.arange(0.0, 1.0001, 0.01):
            if self.false_duplicate_rate(float(threshold)) < limit:
                return round(float(threshold), 2)
        return 1.0


def load_jsonl(path: Path) -> list[dict[str, str]]:
    """Every line of a JSON Lines file."""
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def quality(results: Sequence[DuplicateResult], masters: Sequence[str]) -> Quality:
    """Recall@1/5/10, MRR and the top match of each query."""
    ranks, top_scores, top_is_master = [], [], []
    for result, master in zip(results, masters, strict=True):
        ids = [m.id for m in result.matches]
        ranks.append(ids.index(master) + 1 if master in ids else np.inf)
        top_scores.append(result.matches[0].score if result.matches else 0.0)
        top_is_master.append(bool(ids) and ids[0] == master)
    rank_array = np.array(ranks)
    return Quality(
        recall={k: float(np.mean(rank_array <= k)) for k in (1, 5, 10)},
        mrr=float(np.mean(1.0 / rank_array)),
        top_scores=np.array(top_scores),
        top_is_master=np.array(top_is_master),
    )


def unrelated_over(results: Sequence[DuplicateResult], threshold: float) -> float:
    """Share of unrelated queries whose top match still scores >= threshold."""
    return float(np.mean([bool(r.matches) and r.matches[0].score >= threshold for r in results]))


def main(argv: Sequence[str] | None = None) -> int:
    """Index the corpus, query every duplicate both ways, print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="shared data directory")
    args = parser.parse_args(argv)
    corpus = load_jsonl(args.data / "openoffice_dups_corpus.jsonl")
    pairs = load_jsonl(args.data / "openoffice_dups_pairs.jsonl")
    feedback = load_jsonl(args.data / "short_feedback_dev.jsonl")
    by_id = {doc["id"]: doc for doc in corpus}

    embedder = Embedder()
    with tempfile.TemporaryDirectory(prefix="dedup-eval-") as tmp:
        store = VectorStore.open(data_dir=Path(tmp), embedder=embedder)
        indexes = {mode: DuplicateIndex(store, embedder, scoring=mode) for mode in Scoring}
        started = time.perf_counter()
        indexes[Scoring.HYBRID].import_documents(
            REPO,
            (imported_document(doc_id=d["id"], title=d["title"], body=d["body"]) for d in corpus),
        )
        print(f"indexed {store.count_sync(REPO)} reports in {time.perf_counter() - started:.1f}s")
        queries = [
            (
                p["duplicate"],
                document_text(by_id[p["duplicate"]]["title"], by_id[p["duplicate"]]["body"]),
            )
            for p in pairs
        ]
        masters = [p["master"] for p in pairs]
        unrelated = [(None, item["text"]) for item in feedback]
        rows = {}
        for mode, index in indexes.items():
            rows[mode] = (
                quality(index.query_many(REPO, queries, k=10), masters),
                index.query_many(REPO, unrelated, k=1),
            )
    embedder.close()

    print(f"\n{len(pairs)} duplicate queries over {len(corpus)} OpenOffice reports")
    print(
        f"{'scoring':8} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR':>6} "
        f"{'FDR@dup':>8} {'caught':>7} {'calib.t':>8} {'FDR@t':>6} {'caught@t':>8} "
        f"{'unrel>=dup':>10} {'unrel>=pos':>10}"
    )
    for mode, (q, unrel) in rows.items():
        t = q.calibrated_threshold()
        print(
            f"{mode.value:8} {q.recall[1]:6.3f} {q.recall[5]:6.3f} {q.recall[10]:6.3f} "
            f"{q.mrr:6.3f} {q.false_duplicate_rate(DEFAULT_DUPLICATE_THRESHOLD):8.3f} "
            f"{q.caught(DEFAULT_DUPLICATE_THRESHOLD):7.3f} {t:8.2f} "
            f"{q.false_duplicate_rate(t):6.3f} {q.caught(t):8.3f} "
            f"{unrelated_over(unrel, DEFAULT_DUPLICATE_THRESHOLD):10.3f} "
            f"{unrelated_over(unrel, DEFAULT_POSSIBLE_THRESHOLD):10.3f}"
        )
    print(
        f"\nthresholds in force: duplicate={DEFAULT_THRESHOLDS.duplicate} "
        f"possible={DEFAULT_THRESHOLDS.possible} (agents/dedup/scoring.py)"
    )
    print(
        "FDR@dup: top match >= duplicate threshold but not the master; caught: top match is "
        "the master and >= threshold; calib.t: lowest threshold with FDR < 5% for that "
        f"scoring; unrel: {len(feedback)} unrelated Play-store reviews queried against the "
        "corpus, share whose top match reaches the duplicate / possible threshold"
    )
    print("\nhybrid threshold sweep (FDR / caught / unrelated over):")
    hybrid, hybrid_unrel = rows[Scoring.HYBRID]
    for threshold in np.arange(0.30, 0.71, 0.05):
        t = float(threshold)
        print(
            f"  t={t:.2f}  FDR={hybrid.false_duplicate_rate(t):.3f}  "
            f"caught={hybrid.caught(t):.3f}  unrelated={unrelated_over(hybrid_unrel, t):.3f}"
        )
    q = rows[Scoring.HYBRID][0]
    ok = (
        q.recall[10] >= TARGET_RECALL_AT_10
        and q.false_duplicate_rate(DEFAULT_DUPLICATE_THRESHOLD) < MAX_FALSE_DUPLICATE_RATE
    )
    print(
        f"\ntargets (hybrid, in force): recall@10 >= {TARGET_RECALL_AT_10}: "
        f"{q.recall[10]:.3f}; false-duplicate rate < {MAX_FALSE_DUPLICATE_RATE}: "
        f"{q.false_duplicate_rate(DEFAULT_DUPLICATE_THRESHOLD):.3f} -> {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
