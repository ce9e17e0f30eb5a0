"""Quality of the int8 encoder against fp32: vectors, classifier figures, duplicate recall.

Usage: `python -m benchmarks.footprint_quality [SHARED_DATA [BOT_DATA_DIR [ISSUES]]]` (run by
`benchmarks/footprint.py`; BOT_DATA_DIR holds or gets the int8 artifact).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from agents.dedup.documents import document_text  # noqa: E402
from agents.engines.offline import OfflineEngine  # noqa: E402
from agents.engines.training import read_issues  # noqa: E402
from storage.embeddings import Embedder  # noqa: E402

TARGET_F1 = 0.005
TARGET_RECALL = 0.01


def _jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def macro_f1(truth: list[str], predicted: list[str], labels: list[str]) -> float:
    """Macro-F1 over `labels` (a prediction outside them is a miss)."""
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0))


def dense_recall_at_10(embedder: Embedder, data: Path) -> float:
    """Share of OpenOffice duplicates whose master is among the 10 nearest other reports."""
    corpus = _jsonl(data / "openoffice_dups_corpus.jsonl")
    pairs = _jsonl(data / "openoffice_dups_pairs.jsonl")
    ids = [doc["id"] for doc in corpus]
    vectors = embedder.encode([document_text(doc["title"], doc["body"]) for doc in corpus])
    position = {doc_id: n for n, doc_id in enumerate(ids)}
    hits = 0
    for pair in pairs:
        query = position[pair["duplicate"]]
        scores = vectors @ vectors[query]
        scores[query] = -np.inf
        top = np.argsort(-scores)[:10]
        hits += position[pair["master"]] in top
    return hits / len(pairs)


def figures(embedder: Embedder, data: Path, issues: int) -> dict[str, object]:
    """Every figure compared, for one encoder."""
    engine = OfflineEngine(embedder)
    full, _, labels = read_issues(data)
    step = max(1, len(full) // max(1, issues))  # the file is grouped by repository and label
    full, labels = full[::step][:issues], labels[::step][:issues]
    nlbse = [v.kind for v in engine.classify_batch(full)]
    feedback = [r for r in _jsonl(data / "short_feedback_dev.jsonl") if r["label"] != "praise"]
    short = [v.kind for v in engine.classify_batch([r["text"] for r in feedback])]
    texts = [r["text"] for r in _jsonl(data / "app_reviews_clap_dev.jsonl")] + full
    return {
        "nlbse": macro_f1(labels, nlbse, ["bug", "feature", "question"]),
        "short": macro_f1([r["label"] for r in feedback], short, ["bug", "feature"]),
        "recall": dense_recall_at_10(embedder, data),
        "vectors": embedder.encode(texts),
        "issues": len(full),
    }


def main(data: Path, bot_data: Path, issues: int = 1500) -> int:
    """Print int8 against fp32 for every figure, with the targets' verdicts."""
    results = {}
    for runtime in ("fp32", "int8"):
        embedder = Embedder(runtime=runtime, data_dir=bot_data)  # type: ignore[arg-type]
        try:
            if embedder.runtime != runtime:
                raise SystemExit(f"{runtime} encoder not available")
            results[runtime] = figures(embedder, data, issues)
        finally:
            embedder.close()
    fp32, int8 = results["fp32"], results["int8"]
    cosine = float(np.mean(np.sum(fp32["vectors"] * int8["vectors"], axis=1)))  # type: ignore[operator]
    print(f"  mean cosine int8 vs fp32 over {len(fp32['vectors'])} texts: {cosine:.4f}")  # type: ignore[arg-type]
    rows = (
        (f"NLBSE'24 macro-F1, shipped head, {fp32['issues']} issues", "nlbse", TARGET_F1),
        ("short feedback bug/feature macro-F1", "short", TARGET_F1),
        ("duplicate recall@10 (dense, OpenOffice pairs)", "recall", TARGET_RECALL),
    )
    for label, key, limit in rows:
        a, b = float(fp32[key]), float(int8[key])  # type: ignore[arg-type]
        ok = abs(a - b) <= limit
        print(
            f"  {label}: fp32 {a:.4f} int8 {b:.4f} (diff {b - a:+.4f}, target within {limit}): "
            f"{'PASS' if ok else 'FAIL'}"
        )
    return 0


def _cli() -> int:
    """Arguments as in the module docstring; without them, the shared data and a fresh DATA_DIR."""
    import tempfile

    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1500
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT.parent / "shared" / "data"
    if len(sys.argv) > 2:
        return main(data, Path(sys.argv[2]), count)
    with tempfile.TemporaryDirectory(prefix="footprint-quality-") as bot_data:
        return main(data, Path(bot_data), count)


if __name__ == "__main__":
    raise SystemExit(_cli())
