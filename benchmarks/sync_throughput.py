"""GitHub issue sync throughput: issues/s from the fake GitHub into the duplicate index.

`--issues` issues (NLBSE titles and bodies, cycled) are stored in `FakeGitHub`; the bot's
`IssueSync` reads them page by page over HTTP with the real `GitHubClient`, checks their
known states and upserts them through `DuplicateIndex.upsert_issues` (embedding + chromadb
write), keeping its high-water mark in SQLite, exactly as the scheduled sync does.

The reference is bare `SentenceTransformer.encode` of the same document texts in batches of
the embedder's batch size, measured in the same run (half before the sync, half after).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import (
    issue_records,
    load_model,
    machine_line,
    rss_mb,
    verdict,
)

REPO = "bench/widgets"
TARGET_RATIO = 0.80


def bare_seconds(model: Any, texts: Sequence[str], batch_size: int) -> float:
    """Seconds for `model.encode` of `texts` in batches of `batch_size`."""
    began = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        model.encode(
            list(texts[start : start + batch_size]),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return time.perf_counter() - began


async def sync_seconds(model: Any, records: Sequence[dict[str, Any]]) -> tuple[float, Any, int]:
    """Run one full sync of `records`; returns (seconds, stats, documents indexed)."""
    from agents.dedup.finder import DuplicateIndex
    from bot.github import GitHubClient
    from bot.sandbox.fake_github import FakeGitHub
    from bot.sync import IssueSync
    from storage.db import Database, upgrade
    from storage.embeddings import Embedder
    from storage.sync_state import SyncStateRepository
    from storage.vectors import VectorStore

    with tempfile.TemporaryDirectory(prefix="sync-throughput-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bot.sqlite3'}"
        await upgrade(url)
        db = Database(url)
        embedder = Embedder(model)
        store = await asyncio.to_thread(VectorStore.open, data_dir=Path(tmp), embedder=embedder)
        index = DuplicateIndex(store, embedder)
        async with FakeGitHub(repos=(REPO,), rate_limit=1_000_000) as github_fake:
            for record in records:
                github_fake.add_issue(
                    REPO,
                    title=record["title"],
                    body=record["body"],
                    labels=record["labels"],
                    state=record["state"],
                )
            github = GitHubClient(token=github_fake.token, base_url=github_fake.url)
            sync = IssueSync(
                github,
                SyncStateRepository(db),
                index.upsert_issues,
                known_states=index.known_states,
            )
            began = time.perf_counter()
            stats = await sync.run(REPO)
            seconds = time.perf_counter() - began
            indexed = await index.count(REPO)
        embedder.close()
        await db.close()
    return seconds, stats, indexed


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the sync/bare ratio."""
    from agents.dedup.documents import document_text
    from storage.embeddings import DEFAULT_BATCH_SIZE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=2000, help="issues in the fake repo")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(machine_line())
    records = issue_records(args.issues)
    texts = [document_text(r["title"], r["body"]) for r in records]
    model = load_model()
    half = len(texts) // 2
    bare = bare_seconds(model, texts[:half], DEFAULT_BATCH_SIZE)
    seconds, stats, indexed = asyncio.run(sync_seconds(model, records))
    bare += bare_seconds(model, texts[half:], DEFAULT_BATCH_SIZE)
    n = len(texts)
    rate, bare_rate = stats.fetched / seconds, n / bare
    ratio = rate / bare_rate
    print(
        f"\n{n} issues: synced {stats.fetched} in {stats.pages} pages, {indexed} indexed, "
        f"{seconds:.1f}s"
    )
    print(f"  sync (HTTP pages + embed + chromadb + mark): {rate:8.1f} issues/s")
    print(f"  bare model.encode, batch {DEFAULT_BATCH_SIZE}:              {bare_rate:8.1f} texts/s")
    print(f"  RSS: {rss_mb():.0f} MiB")
    ok = ratio >= TARGET_RATIO and indexed == n
    print(f"\nratio sync/bare {ratio:.2f} (target >= {TARGET_RATIO}) -> {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
