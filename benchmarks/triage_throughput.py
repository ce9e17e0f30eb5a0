"""Triage throughput: items/s through the full offline graph against bare `model.encode`.

The pipeline is the bot's own: `open_services` (SQLite, chromadb under a temporary
DATA_DIR, SQLite checkpoints, the offline engine) and a `TriageRunner` with many items in
flight, so the `Embedder` gathers concurrent items into batches. Every item goes through
normalise, classify, dedup query + index write, spec draft, the status CAS writes, the
audit rows and a durable checkpoint after each step.

The reference is the physical limit on this machine: bare `SentenceTransformer.encode` of
the same texts (one embedding per item, the text the classifier embeds), in the same
calls the pipeline's embedder made, replayed three ways: each call as one `encode` with
torch's own threading; each call's length-sorted passes spread over single-threaded
workers as the embedder runs them; and the same passes through the traced transformer the
embedder uses (`storage.scripted`: same kernels, same output). The fastest of the three is
the reference. The rate of all texts in one `encode` call is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
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
    cpu_by_part,
    feedback_texts,
    load_model,
    machine_line,
    rss_mb,
    verdict,
)
from bot.settings import TriageSettings

TARGET_RATIO = 0.70


def reference_texts(texts: Sequence[str]) -> list[str]:
    """What the pipeline must embed at least once per item: the classifier's input."""
    from agents.engines.text_prep import embedding_text
    from agents.text import normalize

    return [embedding_text(normalize(t)) for t in texts]


def bare_encode_seconds(
    model: Any,
    texts: Sequence[str],
    batches: Sequence[int],
    pool: Any = None,
    traced: Any = None,
) -> float:
    """Seconds for bare `model.encode` over `texts` cut into calls of the given sizes.

    Without `pool`, each call is one `encode` as torch sets it up (every CPU on each
    pass). With `pool` (single-threaded workers), a call's length-sorted passes of
    `MODEL_BATCH_SIZE` are spread over the workers, as the embedder does, but with
    nothing of the bot around them. With `traced` as well, each pass runs through that
    traced forward function (`storage.scripted`) instead of `encode`.
    """
    import torch

    from storage.embeddings import MODEL_BATCH_SIZE, default_workers, forward_passes

    def encode(chunk: list[str]) -> Any:
        if traced is not None:
            with torch.inference_mode():
                return traced(dict(model.preprocess(chunk))).numpy()
        return model.encode(
            chunk,
            batch_size=MODEL_BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    started = time.perf_counter()
    position = 0
    for size in [*batches, max(0, len(texts) - sum(batches))]:
        chunk = sorted(texts[position : position + size], key=len, reverse=True)
        position += size
        if not chunk:
            continue
        if pool is None:
            encode(chunk)
        else:
            list(pool.map(encode, forward_passes(chunk, default_workers())))
    return time.perf_counter() - started


def bare_reference(model: Any, texts: Sequence[str], batches: Sequence[int]) -> dict[str, float]:
    """Bare encode rates (texts/s) of the pipeline's calls, three ways, and in one call.

    Each way runs in two halves around the one-call run, to spread background load.
    """
    from concurrent.futures import ThreadPoolExecutor

    from storage.embeddings import default_workers, use_one_thread
    from storage.scripted import scripted_forward

    traced = scripted_forward(model)
    half = len(batches) // 2
    first = sum(batches[:half])
    parts = [
        (texts[:first], batches[:half]),
        (texts[first : sum(batches)], batches[half:]),
    ]
    n = sum(batches)
    with ThreadPoolExecutor(default_workers(), initializer=use_one_thread) as pool:
        seconds = {"torch": 0.0, "workers": 0.0, "traced": 0.0}
        for part, sizes in parts[:1]:
            seconds["torch"] += bare_encode_seconds(model, part, sizes)
            seconds["workers"] += bare_encode_seconds(model, part, sizes, pool)
            seconds["traced"] += bare_encode_seconds(model, part, sizes, pool, traced)
        one_call = bare_encode_seconds(model, texts[:n], [n])
        for part, sizes in parts[1:]:
            seconds["traced"] += bare_encode_seconds(model, part, sizes, pool, traced)
            seconds["workers"] += bare_encode_seconds(model, part, sizes, pool)
            seconds["torch"] += bare_encode_seconds(model, part, sizes)
    return {
        "torch": n / seconds["torch"],
        "workers": n / seconds["workers"],
        "traced": n / seconds["traced"],
        "one_call": n / one_call,
    }


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
            cpu_before = cpu_by_part()
            began = time.perf_counter()
            await _triage(runner, ids)
            triaged = time.perf_counter() - began
            cpu = {part: used - cpu_before[part] for part, used in cpu_by_part().items()}
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
        "cpu": cpu,
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
    parser.add_argument(
        "--concurrency",
        type=int,
        default=TriageSettings.model_fields["concurrency"].default,
        help="items in flight (default: the bot's TRIAGE_CONCURRENCY default)",
    )
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
    bare = bare_reference(model, reference, batches)
    pipeline_rate = n / result["triage_seconds"]
    bare_rate = max(bare["torch"], bare["workers"], bare["traced"])
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
    cpu: dict[str, float] = result["cpu"]
    print(
        "  CPU per item:                       "
        + ", ".join(f"{part} {1000 * used / n:.0f} ms" for part, used in cpu.items())
        + f"; {sum(cpu.values()) / result['triage_seconds']:.2f} of "
        f"{len(os.sched_getaffinity(0))} CPUs busy"
    )
    print(f"  intake (create + audit row):        {n / result['create_seconds']:8.1f} items/s")
    print(f"  triage (full offline graph):        {pipeline_rate:8.1f} items/s")
    print(f"  bare encode, same calls, torch:     {bare['torch']:8.1f} texts/s (all CPUs per pass)")
    print(
        f"  bare encode, same calls, workers:   {bare['workers']:8.1f} texts/s (one CPU per pass)"
    )
    print(
        f"  bare traced passes, same calls:     {bare['traced']:8.1f} texts/s "
        "(one CPU per pass, the pipeline's forward)"
    )
    print(f"  bare encode, one call, torch:       {bare['one_call']:8.1f} texts/s")
    print(f"  RSS after triage: {result['rss']:.0f} MiB")
    ok = ratio >= TARGET_RATIO
    print(
        f"\nratio pipeline/bare (same calls, the fastest way) {ratio:.2f} "
        f"(target >= {TARGET_RATIO}) -> {verdict(ok)}; "
        f"pipeline/bare in one call: {pipeline_rate / bare['one_call']:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
