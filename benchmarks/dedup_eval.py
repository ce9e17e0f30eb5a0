"""Duplicate-detection quality on OpenOffice duplicate pairs: dense against hybrid scoring.

The pairs' own reports are searched alone and again with distractors in the index (the
NLBSE'24 issues and the CLAP app reviews), where the precision of the `duplicate` verdict
is measured: a verdict is right when its first match is the master or another duplicate of
the same master. Vectors are cached on disk (`.benchmarks/vectors`) between runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from agents.dedup.documents import document_text, imported_document  # noqa: E402
from agents.dedup.finder import DuplicateIndex  # noqa: E402
from agents.dedup.scoring import (  # noqa: E402
    DEFAULT_POSSIBLE_THRESHOLD,
    DEFAULT_THRESHOLDS,
    Scoring,
)
from agents.dedup.types import DuplicateResult  # noqa: E402
from benchmarks._vector_cache import CachedEmbedder  # noqa: E402
from storage.vectors import StoredDocument, VectorStore  # noqa: E402

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REPO = "bench/openoffice"
DISTRACTED_REPO = "bench/openoffice-distracted"
MAX_FALSE_DUPLICATE_RATE = 0.05
TARGET_RECALL_AT_10 = 0.75
TARGET_VERDICT_PRECISION = 0.90


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


def distractors(data: Path) -> list[StoredDocument]:
    """Documents of other problems added to the index: NLBSE'24 issues and CLAP reviews."""
    csv.field_size_limit(1 << 30)
    with (data / "nlbse24_issues_train.csv").open(encoding="utf-8", newline="") as stream:
        issues = list(csv.DictReader(stream))
    reviews = load_jsonl(data / "app_reviews_clap_dev.jsonl")
    return [
        imported_document(doc_id=f"nlbse:{n}", title=row["title"], body=row["body"])
        for n, row in enumerate(issues)
    ] + [
        imported_document(doc_id=f"clap:{row['id']}", title=row["text"][:80], body=row["text"])
        for row in reviews
    ]


@dataclass(frozen=True)
class VerdictQuality:
    """How far a `duplicate` verdict can be trusted."""

    verdicts: int
    right: int
    queries: int

    @property
    def precision(self) -> float:
        """Share of `duplicate` verdicts whose first match is the master or a sibling."""
        return self.right / self.verdicts if self.verdicts else 0.0


def verdict_quality(
    results: Sequence[DuplicateResult], pairs: Sequence[dict[str, str]]
) -> VerdictQuality:
    """Count `duplicate` verdicts and the right ones (master or a duplicate of the same master)."""
    family: dict[str, set[str]] = {}
    for pair in pairs:
        family.setdefault(pair["master"], {pair["master"]}).add(pair["duplicate"])
    verdicts = right = 0
    for result, pair in zip(results, pairs, strict=True):
        if result.verdict != "duplicate":
            continue
        verdicts += 1
        right += result.matches[0].id in family[pair["master"]]
    return VerdictQuality(verdicts=verdicts, right=right, queries=len(pairs))


def main(argv: Sequence[str] | None = None) -> int:
    """Index the corpus (alone, then with distractors), query every duplicate, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="shared data directory")
    args = parser.parse_args(argv)
    corpus = load_jsonl(args.data / "openoffice_dups_corpus.jsonl")
    pairs = load_jsonl(args.data / "openoffice_dups_pairs.jsonl")
    feedback = load_jsonl(args.data / "short_feedback_dev.jsonl")
    by_id = {doc["id"]: doc for doc in corpus}
    reports = [imported_document(doc_id=d["id"], title=d["title"], body=d["body"]) for d in corpus]
    extra = distractors(args.data)

    embedder = CachedEmbedder()
    with tempfile.TemporaryDirectory(prefix="dedup-eval-") as tmp:
        store = VectorStore.open(data_dir=Path(tmp), embedder=embedder)
        indexes = {mode: DuplicateIndex(store, embedder, scoring=mode) for mode in Scoring}
        started = time.perf_counter()
        indexes[Scoring.HYBRID].import_documents(REPO, reports)
        indexes[Scoring.HYBRID].import_documents(DISTRACTED_REPO, reports + extra)
        print(
            f"indexed {store.count_sync(REPO)} reports, and {store.count_sync(DISTRACTED_REPO)} "
            f"with distractors, in {time.perf_counter() - started:.1f}s"
        )
        queries = [
            (
                p["duplicate"],
                document_text(by_id[p["duplicate"]]["title"], by_id[p["duplicate"]]["body"]),
            )
            for p in pairs
        ]
        masters = [p["master"] for p in pairs]
        unrelated = [(None, item["text"]) for item in feedback]
        rows, verdicts = {}, {}
        for mode, index in indexes.items():
            plain = index.query_many(REPO, queries, k=10)
            distracted = index.query_many(DISTRACTED_REPO, queries, k=10)
            rows[mode] = (
                quality(plain, masters),
                quality(distracted, masters),
                index.query_many(REPO, unrelated, k=1),
            )
            verdicts[mode] = (verdict_quality(plain, pairs), verdict_quality(distracted, pairs))
    embedder.close()

    print(
        f"\n{len(pairs)} duplicate queries over {len(corpus)} OpenOffice reports, and over "
        f"those plus {len(extra)} distractors (NLBSE'24 issues, CLAP app reviews)"
    )
    print(
        f"{'scoring':8} {'index':11} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR':>6} "
        f"{'dup verdicts':>12} {'precision':>9} {'unrel>=pos':>10}"
    )
    for mode, (q, qd, unrel) in rows.items():
        for name, measured, vq in (
            ("alone", q, verdicts[mode][0]),
            ("distracted", qd, verdicts[mode][1]),
        ):
            unrelated_share = unrelated_over(unrel, DEFAULT_POSSIBLE_THRESHOLD)
            print(
                f"{mode.value:8} {name:11} {measured.recall[1]:6.3f} {measured.recall[5]:6.3f} "
                f"{measured.recall[10]:6.3f} {measured.mrr:6.3f} "
                f"{vq.verdicts:5d} ({vq.verdicts / vq.queries:4.0%}) {vq.precision:9.3f} "
                + (f"{unrelated_share:10.3f}" if name == "alone" else f"{'':>10}")
            )
    print(
        f"\nthresholds in force: duplicate={DEFAULT_THRESHOLDS.duplicate} "
        f"possible={DEFAULT_THRESHOLDS.possible} (agents/dedup/scoring.py), and for a "
        "`duplicate` verdict shared title words and a lead over the runner-up "
        "(agents/dedup/evidence.py)"
    )
    print(
        "dup verdicts: queries called `duplicate` (share of all); precision: share of those whose "
        "first match is the master or another duplicate of the same master; unrel>=pos: "
        f"{len(feedback)} unrelated Play-store reviews queried against the reports alone, share "
        "whose top match reaches the possible threshold"
    )
    hybrid_distracted = rows[Scoring.HYBRID][1]
    print("\nscore-only verdicts for comparison (hybrid, distracted): threshold / FDR / caught")
    for threshold in np.arange(0.40, 0.61, 0.05):
        t = float(threshold)
        print(
            f"  t={t:.2f}  FDR={hybrid_distracted.false_duplicate_rate(t):.3f}  "
            f"caught={hybrid_distracted.caught(t):.3f}"
        )
    shipped = verdicts[Scoring.HYBRID][1]
    ok = (
        hybrid_distracted.recall[10] >= TARGET_RECALL_AT_10
        and shipped.precision >= TARGET_VERDICT_PRECISION
    )
    print(
        f"\ntargets (hybrid, with distractors): recall@10 >= {TARGET_RECALL_AT_10}: "
        f"{hybrid_distracted.recall[10]:.3f}; `duplicate` precision >= "
        f"{TARGET_VERDICT_PRECISION}: {shipped.precision:.3f} ({shipped.right}/{shipped.verdicts}, "
        f"{shipped.verdicts / shipped.queries:.0%} of duplicates get the verdict) -> "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
