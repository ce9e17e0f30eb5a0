"""Triage throughput: items/s through the full offline graph against bare `model.encode`.

The pipeline is the bot's own: `open_services` (SQLite, chromadb under a temporary
DATA_DIR, SQLite checkpoints, the offline engine) and a `TriageRunner` with many items in
flight, so the `Embedder` gathers concurrent items into batches. Every item goes through
normalise, classify, dedup query + index write, spec draft, the status CAS writes, the
audit rows and a durable checkpoint after each step.

The reference is the physical limit on this machine: `SentenceTransformer.encode` of the
same texts (one embedding per item, the text the classifier embeds), in the same batch
sizes the pipeline's embedder ran (its mean), and also in full batches of 64; both in the
same run, the first in two halves around the second to spread background load.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    bench_settings,
    feedback_texts,
    load_model,
    machine_line,
    rss_mb,
    verdict,
)

TARGET_RATIO = 0.70


def reference_texts(texts: Sequence[str]) -> list[str]:
    """What the pipeline must embed at least once per item: the classifier's input."""
    from agents.engines.text_prep import embedding_text
    from agents.text import normalize

    return [embedding_text(normalize(t)) for t in texts]


def bare_encode_seconds(model: Any, texts: Sequence[str], batches: Sequence[int]) -> float:
    """Seconds for `model.encode` over `texts` cut into batches of the given sizes."""
    started = time.perf_counter()
    position = 0
    for size in batches:
        chunk = list(texts[position : position + size])
        position += size
        if chunk:
            model.encode(
                chunk,
                batch_size=64,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
    if position < len(texts):
        model.encode(list(texts[position:]), batch_size=64, show_progress_bar=False)
    return time.perf_counter() - started


async def create_items(services: Any, texts: Sequence[str], offset: int) -> list[int]:
    """Store the texts as received feedback items; returns their ids."""
    from storage.models import FeedbackItemBase

    ids = []
    for n, text in enumerate(texts):
        item, _ = await services.items.create(
            item=FeedbackItemBase(
                source_kind="channel",
                source_key=f"message:{offset + n}",
                guild_id=None,
                channel_id=1,
                message_id=offset + n,
                author_id=2,
                author_name="bench",
                raw_text=text,
            ),
            actor="bench",
        )
        assert item.id is not None
        ids.append(item.id)
    return ids


async def run_pipeline(
    model: Any,
    warm: Sequence[str],
    texts: Sequence[str],
    *,
    concurrency: int,
    profile: Path | None,
) -> dict[str, Any]:
    """Triage `texts` through the real services; returns timings and embedder batch sizes."""
    from agents.triage.runner import TriageRunner
    from bot.services import open_services

    batch_sizes: list[int] = []
    with tempfile.TemporaryDirectory(prefix="triage-throughput-") as tmp:
        settings = bench_settings(Path(tmp))
        async with open_services(settings, model=model, load_model_now=True) as services:
            model_encode = model.encode

            def counting_encode(batch: Sequence[str], *args: Any, **kwargs: Any) -> Any:
                batch_sizes.append(len(batch))
                return model_encode(batch, *args, **kwargs)

            model.encode = counting_encode
            runner = TriageRunner(
                graph=services.runner.graph,
                context=services.runner.context,
                policy_for=services.runner.policy_for,
                concurrency=concurrency,
            )
            warm_ids = await create_items(services, warm, offset=10_000_000)
            await _triage(runner, warm_ids)
            batch_sizes.clear()
            began = time.perf_counter()
            ids = await create_items(services, texts, offset=0)
            created = time.perf_counter() - began
            profiler = _start_profile() if profile else None
            began = time.perf_counter()
            await _triage(runner, ids)
            triaged = time.perf_counter() - began
            if profiler is not None and profile is not None:
                profiler.disable()
                profiler.dump_stats(str(profile))
            del model.encode
            counts = await services.items.counts_by_status()
            rss = rss_mb()
    return {
        "create_seconds": created,
        "triage_seconds": triaged,
        "batch_sizes": batch_sizes,
        "counts": counts,
        "rss": rss,
    }


def _start_profile() -> Any:
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


async def _triage(runner: Any, ids: Sequence[int]) -> None:
    for item_id in ids:
        runner.submit(item_id)
    while runner.in_flight:  # noqa: ASYNC110
        await asyncio.sleep(0.02)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the pipeline/bare ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64, help="items in flight")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the triage here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(machine_line())
    texts = feedback_texts(args.items + 50)
    warm, texts = texts[: min(50, len(texts) // 10)], texts[min(50, len(texts) // 10) :]
    texts = texts[: args.items]
    reference = reference_texts(texts)
    model = load_model()

    result = asyncio.run(
        run_pipeline(model, warm, texts, concurrency=args.concurrency, profile=args.profile)
    )
    batches: list[int] = result["batch_sizes"]
    n = len(texts)
    mean_batch = max(1, round(sum(batches) / max(1, len(batches))))
    same = [mean_batch] * (n // mean_batch + 1)
    bare_before = bare_encode_seconds(model, reference[0::2], same)
    bare_full = bare_encode_seconds(model, reference, [64] * (n // 64 + 1))
    bare_after = bare_encode_seconds(model, reference[1::2], same)
    bare = bare_before + bare_after
    pipeline_rate = n / result["triage_seconds"]
    bare_rate = n / bare
    ratio = pipeline_rate / bare_rate
    histogram = Counter(1 << max(0, (b - 1).bit_length()) for b in batches)
    print(f"\n{n} items, {args.concurrency} in flight; final statuses {result['counts']}")
    print(
        f"  model calls in the pipeline: {len(batches)}, {sum(batches)} texts for {n} items, "
        f"mean batch {mean_batch}; sizes (rounded up to a power of 2): "
        f"{dict(sorted(histogram.items()))}"
    )
    print(f"  intake (create + audit row):        {n / result['create_seconds']:8.1f} items/s")
    print(f"  triage (full offline graph):        {pipeline_rate:8.1f} items/s")
    print(
        f"  bare model.encode, batch {mean_batch:<3}:       {bare_rate:8.1f} texts/s "
        f"(half {bare_before:.1f}s before, half {bare_after:.1f}s after batch 64)"
    )
    print(f"  bare model.encode, batch 64:        {n / bare_full:8.1f} texts/s")
    print(f"  RSS after triage: {result['rss']:.0f} MiB")
    ok = ratio >= TARGET_RATIO
    print(
        f"\nratio pipeline/bare (same batch size) {ratio:.2f} (target >= {TARGET_RATIO}) "
        f"-> {verdict(ok)}; pipeline/bare at batch 64: {pipeline_rate * bare_full / n:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
