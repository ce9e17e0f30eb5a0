"""Triage throughput: items/s through the full offline graph against bare `model.encode`.

The pipeline is the bot's own: `open_services` (SQLite, chromadb under a temporary
DATA_DIR, SQLite checkpoints, the offline engine) and a `TriageRunner` with many items in
flight, so the `Embedder` gathers concurrent items into batches. Every item goes through
normalise, classify, dedup query + index write, spec draft, the status CAS writes, the
audit rows and a durable checkpoint after each step.

The reference is the physical limit on this machine: `SentenceTransformer.encode` of the
same texts (one embedding per item, the text the classifier embeds) with the embedder's
own pass size, in the same call sizes the pipeline's embedder made (replayed in order,
in two halves around the second reference to spread background load), and all in one
call (the best the model can do: one length-sorted run).
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
    """Seconds for `model.encode` over `texts` cut into calls of the given sizes."""
    from storage.embeddings import MODEL_BATCH_SIZE

    started = time.perf_counter()
    position = 0
    for size in batches:
        chunk = list(texts[position : position + size])
        position += size
        if chunk:
            model.encode(
                chunk,
                batch_size=MODEL_BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
    if position < len(texts):
        model.encode(list(texts[position:]), batch_size=MODEL_BATCH_SIZE, show_progress_bar=False)
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
    encode_seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="triage-throughput-") as tmp:
        settings = bench_settings(Path(tmp))
        async with open_services(settings, model=model, load_model_now=True) as services:
            embedder = services.embedder
            cut_passes = embedder._passes
            forward = embedder._forward

            def counting_passes(texts: list[str]) -> list[list[str]]:
                batch_sizes.append(len(texts))
                return cut_passes(texts)

            def timed_forward(texts: list[str]) -> Any:
                began = time.perf_counter()
                try:
                    return forward(texts)
                finally:
                    encode_seconds.append(time.perf_counter() - began)

            embedder._passes = counting_passes  # type: ignore[method-assign]
            embedder._forward = timed_forward  # type: ignore[method-assign]
            runner = TriageRunner(
                graph=services.runner.graph,
                context=services.runner.context,
                policy_for=services.runner.policy_for,
                concurrency=concurrency,
            )
            warm_ids = await create_items(services, warm, offset=10_000_000)
            await _triage(runner, warm_ids)
            batch_sizes.clear()
            encode_seconds.clear()
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
            counts = await services.items.counts_by_status()
            rss = rss_mb()
    return {
        "create_seconds": created,
        "triage_seconds": triaged,
        "batch_sizes": batch_sizes,
        "encode_seconds": sum(encode_seconds),
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
    half = len(batches) // 2
    first, second = sum(batches[:half]), sum(batches[half:])
    bare_before = bare_encode_seconds(model, reference[:first], batches[:half])
    bare_full = bare_encode_seconds(model, reference, [n])
    bare_after = bare_encode_seconds(model, reference[first : first + second], batches[half:])
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
    print(
        f"  inference workers busy:             {result['encode_seconds']:8.1f} s of "
        f"{result['triage_seconds']:.1f} s (summed over the workers)"
    )
    print(f"  intake (create + audit row):        {n / result['create_seconds']:8.1f} items/s")
    print(f"  triage (full offline graph):        {pipeline_rate:8.1f} items/s")
    print(
        f"  bare model.encode, same calls:      {bare_rate:8.1f} texts/s "
        f"(half {bare_before:.1f}s before, half {bare_after:.1f}s after the one-call run)"
    )
    print(f"  bare model.encode, one call:        {n / bare_full:8.1f} texts/s")
    print(f"  RSS after triage: {result['rss']:.0f} MiB")
    ok = ratio >= TARGET_RATIO
    print(
        f"\nratio pipeline/bare (same calls) {ratio:.2f} (target >= {TARGET_RATIO}) "
        f"-> {verdict(ok)}; pipeline/bare in one call: {pipeline_rate * bare_full / n:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
