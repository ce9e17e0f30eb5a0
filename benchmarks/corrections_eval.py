"""Learning from corrections: does a guild's correction memory fix similar held-out feedback?

Protocol (short_feedback_dev.jsonl, bug and feature messages): for each seed, maintainers
"correct" a random 20% of the messages (an example with the gold kind is stored, as the
Edit modal does); the other 80% are held out and classified by the offline engine without
and with the correction memory, through the same `classify(text, guild_id=...)` the bot calls.
"Similar" held-out items are those whose nearest stored example reaches the similarity
threshold, i.e. exactly the items the memory can change. The dataset had its near-duplicates
removed, so few items are that close; the sweep below shows lower thresholds too.

A second, synthetic probe measures the case the memory is for, a problem reported again:
each corrected message is re-sent as a repeat ("same here: " + the text lower-cased without
punctuation) and classified without and with the memory at the default threshold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from agents.engines.corrections import CorrectionMemory  # noqa: E402
from agents.engines.offline import OfflineEngine  # noqa: E402
from agents.engines.text_prep import embedding_text  # noqa: E402
from agents.engines.training import default_data_dir  # noqa: E402
from storage.db import Database, upgrade  # noqa: E402
from storage.embeddings import Embedder  # noqa: E402
from storage.examples import ExampleRepository  # noqa: E402

SHORT_FEEDBACK = "short_feedback_dev.jsonl"
GUILD = 1
THRESHOLDS = (0.85, 0.8, 0.75, 0.7)
DEFAULT_THRESHOLD = THRESHOLDS[0]


def repeat_of(text: str) -> str:
    """Another user's repeat of a report: `same here: ` and the text, lower-cased, unpunctuated."""
    return "same here: " + " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def _records(path: Path) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if r["label"] in ("bug", "feature")]


async def _store_corrections(db: Database, texts: list[str], labels: list[str]) -> None:
    repository = ExampleRepository(db)
    for index, (text, label) in enumerate(zip(texts, labels, strict=True)):
        await repository.add(
            guild_id=GUILD,
            item_id=None,
            text=text,
            kind=label,
            severity="medium",
            title=f"corrected {index}",
            labels=[],
            rejected=False,
        )


async def _run_seed(
    seed: int, records: list[dict[str, str]], embedder: Embedder, fraction: float
) -> tuple[list[tuple[float, int, float, float, float, float]], tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(records))
    cut = int(len(records) * fraction)
    corrected = [records[i] for i in order[:cut]]
    held_out = [records[i] for i in order[cut:]]
    texts = [r["text"] for r in held_out]
    truth = np.array([r["label"] for r in held_out])
    baseline = OfflineEngine(embedder)
    before = np.array([v.kind for v in baseline.classify_batch(texts)])

    example_vectors = embedder.encode([embedding_text(r["text"]) for r in corrected])
    held_vectors = embedder.encode([embedding_text(t) for t in texts])
    nearest = (held_vectors @ example_vectors.T).max(axis=1)

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        await upgrade(url)
        db = Database(url)
        try:
            await _store_corrections(
                db, [r["text"] for r in corrected], [r["label"] for r in corrected]
            )
            for threshold in THRESHOLDS:
                memory = CorrectionMemory(ExampleRepository(db), embedder, threshold=threshold)
                engine = OfflineEngine(embedder, corrections=memory)
                after = np.array([(await engine.classify(t, guild_id=GUILD)).kind for t in texts])
                if threshold == DEFAULT_THRESHOLD:
                    repeats = [repeat_of(r["text"]) for r in corrected]
                    gold = np.array([r["label"] for r in corrected])
                    plain = np.array([v.kind for v in baseline.classify_batch(repeats)])
                    steered = [await engine.classify(t, guild_id=GUILD) for t in repeats]
                    probe = (
                        float(np.mean(plain == gold)),
                        float(np.mean(np.array([v.kind for v in steered]) == gold)),
                        float(
                            np.mean(["corrected by a maintainer" in v.reasoning for v in steered])
                        ),
                    )
                similar = nearest >= threshold
                rows.append(
                    (
                        threshold,
                        int(similar.sum()),
                        float(np.mean(before[similar] == truth[similar])) if similar.any() else 0,
                        float(np.mean(after[similar] == truth[similar])) if similar.any() else 0,
                        float(np.mean(before == truth)),
                        float(np.mean(after == truth)),
                    )
                )
        finally:
            await db.close()
    return rows, probe


async def _main(args: argparse.Namespace) -> int:
    records = _records(args.data_dir / SHORT_FEEDBACK)
    embedder = Embedder()
    await embedder.load()
    started = time.perf_counter()
    results = [
        await _run_seed(seed, records, embedder, args.fraction) for seed in range(args.seeds)
    ]
    per_seed = [rows for rows, _ in results]
    probes = np.array([probe for _, probe in results], dtype=float).mean(axis=0)
    print(
        f"{len(records)} bug/feature messages; {args.fraction:.0%} corrected by maintainers, "
        f"the rest held out; {args.seeds} seeds (mean shown)\n"
    )
    print("threshold  similar/held-out  acc. similar before -> after  acc. all before -> after")
    for index, threshold in enumerate(THRESHOLDS):
        values = np.array([seed_rows[index][1:] for seed_rows in per_seed], dtype=float)
        similar, sim_before, sim_after, all_before, all_after = values.mean(axis=0)
        held = len(records) - int(len(records) * args.fraction)
        marker = "  (default)" if threshold == 0.85 else ""
        print(
            f"  {threshold:.2f}     {similar:6.1f} / {held:<6d}     "
            f"{sim_before:6.1%} -> {sim_after:6.1%}          "
            f"{all_before:6.1%} -> {all_after:6.1%}{marker}"
        )
    print(
        f"\nrepeats of corrected reports ({int(len(records) * args.fraction)} per seed, "
        f"threshold {DEFAULT_THRESHOLD}): accuracy {probes[0]:.1%} -> {probes[1]:.1%}; "
        f"{probes[2]:.1%} decided by a correction"
    )
    print(f"\n({time.perf_counter() - started:.0f}s)")
    embedder.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print the before/after table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--fraction", type=float, default=0.2)
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
