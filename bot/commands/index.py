"""`iterateswarm index import|query|stats`: fill, query and inspect the duplicate index."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

from bot.cli import UserError
from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_REPO = "local/default"
_QUERY_CHUNK = 256


@dataclass(frozen=True, slots=True)
class Record:
    """One valid line of an import or query file."""

    line: int
    id: str
    title: str
    body: str
    url: str | None
    state: str | None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `index` subcommand and its `import`, `query` and `stats` actions."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--repo",
        help="owner/name of the index (default: GITHUB_OWNER/GITHUB_REPO, else local/default)",
    )
    parser = subparsers.add_parser(
        "index",
        help="import reports into the duplicate index, query it, show its size",
        description="Work with the duplicate index of one repository.",
    )
    actions = parser.add_subparsers(dest="index_action", metavar="ACTION", required=True)
    importer = actions.add_parser(
        "import",
        parents=[common],
        help="upsert reports from a JSON Lines file",
        description='Each line: {"id", "title", "body", "url"?, "state"?}. Importing the same '
        "file twice changes nothing; bad lines are reported and skipped.",
    )
    importer.add_argument("file", type=Path, help="JSON Lines file")
    importer.set_defaults(handler=import_handler)
    query = actions.add_parser(
        "query",
        parents=[common],
        help="find duplicates for each report in a JSON Lines file (read-only)",
        description='Each line: {"id", "title", "body"}. Writes {"id", "verdict", "matches"} '
        "per line, best match first, never matching a document with the query's own id.",
    )
    query.add_argument("file", help="JSON Lines file, or - for standard input")
    query.add_argument("--k", type=int, default=10, help="matches per query (default: 10)")
    query.add_argument("--output", default="-", help="output file (default: - for stdout)")
    query.set_defaults(handler=query_handler)
    stats = actions.add_parser(
        "stats", parents=[common], help="document count, last sync and store location"
    )
    stats.set_defaults(handler=stats_handler)


def _repo(args: argparse.Namespace, settings: Settings) -> str:
    repo = args.repo or settings.github.full_name or DEFAULT_REPO
    if repo.count("/") != 1 or not all(part.strip() for part in repo.split("/")):
        raise UserError(f"--repo must look like owner/name, got {repo!r}")
    return str(repo)


def _text_field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f'"{name}" must be a string')
    return value


def parse_line(raw: str, line: int) -> Record | None:
    """A record from one JSON line; None for a blank line.

    Raises:
        ValueError: With a message saying what is wrong with the line.
    """
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    doc_id = data.get("id")
    if isinstance(doc_id, bool) or not isinstance(doc_id, str | int) or str(doc_id) == "":
        raise ValueError('"id" must be a non-empty string or integer')
    title, body = _text_field(data, "title"), _text_field(data, "body")
    if not title.strip() and not body.strip():
        raise ValueError('"title" and "body" are both empty')
    url, state = _text_field(data, "url") or None, _text_field(data, "state") or None
    return Record(line=line, id=str(doc_id), title=title, body=body, url=url, state=state)


def _records(stream: IO[str], source: str, errors: list[int]) -> Iterator[Record]:
    for number, raw in enumerate(stream, start=1):
        try:
            record = parse_line(raw, number)
        except ValueError as exc:
            print(f"{source}:{number}: skipped: {exc}", file=sys.stderr)
            errors.append(number)
            continue
        if record is not None:
            yield record


@contextmanager
def _open_input(name: str) -> Iterator[IO[str]]:
    if name == "-":
        yield sys.stdin
        return
    try:
        stream = open(name, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise UserError(f"cannot read {name}: {exc.strerror}") from None
    with stream:
        yield stream


@contextmanager
def _open_output(name: str) -> Iterator[IO[str]]:
    if name == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        stream = open(name, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise UserError(f"cannot write {name}: {exc.strerror}") from None
    with stream:
        yield stream


def _run_import(settings: Settings, repo: str, path: Path) -> tuple[int, list[int]]:
    from tqdm import tqdm

    from agents.dedup.documents import imported_document
    from agents.dedup.finder import DuplicateIndex
    from storage.vectors import VectorStore, shared_embedder

    with _open_input(str(path)) as stream:
        total = sum(1 for raw in stream if raw.strip())
    embedder = shared_embedder()
    store = VectorStore.open(data_dir=settings.data_dir, url=settings.chroma_url, embedder=embedder)
    index = DuplicateIndex(store, embedder)
    errors: list[int] = []
    with (
        _open_input(str(path)) as stream,
        tqdm(total=total, unit="doc", file=sys.stderr, desc="import") as progress,
    ):
        documents = (
            imported_document(doc_id=r.id, title=r.title, body=r.body, url=r.url, state=r.state)
            for r in _records(stream, str(path), errors)
        )
        written = index.import_documents(repo, documents, on_batch=progress.update)
    return written, errors


async def import_handler(args: argparse.Namespace, settings: Settings) -> int:
    """Upsert every valid line of the file into the repository's index."""
    repo = _repo(args, settings)
    if not args.file.is_file():
        raise UserError(f"no such file: {args.file}")
    written, errors = await asyncio.to_thread(_run_import, settings, repo, args.file)
    skipped = f", {len(errors)} bad line(s) skipped" if errors else ""
    print(f"{repo}: {written} document(s) imported{skipped}", file=sys.stderr)
    return 1 if errors else 0


def _run_query(settings: Settings, repo: str, source: str, output: str, k: int) -> int:
    from agents.dedup.documents import document_text
    from agents.dedup.finder import DuplicateIndex
    from agents.dedup.types import DuplicateResult
    from storage.vectors import CHROMA_DIRNAME, VectorStore, shared_embedder

    index: DuplicateIndex | None = None
    if settings.chroma_url or (settings.data_dir / CHROMA_DIRNAME).is_dir():
        embedder = shared_embedder()
        store = VectorStore.open(
            data_dir=settings.data_dir, url=settings.chroma_url, embedder=embedder
        )
        index = DuplicateIndex(store, embedder)
        if store.count_sync(repo) == 0:
            print(f"iterateswarm: the index of {repo} is empty", file=sys.stderr)
    else:
        print(f"iterateswarm: no index under {settings.data_dir}", file=sys.stderr)
    errors: list[int] = []
    with _open_input(source) as stream, _open_output(output) as out:
        records = _records(stream, source, errors)
        while chunk := list(islice(records, _QUERY_CHUNK)):
            queries = [(r.id, document_text(r.title, r.body)) for r in chunk]
            if index is None:
                results = [DuplicateResult(verdict="new") for _ in queries]
            else:
                results = index.query_many(repo, queries, k=k)
            for record, result in zip(chunk, results, strict=True):
                line = {
                    "id": record.id,
                    "verdict": result.verdict,
                    "matches": [{"id": m.id, "score": m.score} for m in result.matches],
                }
                out.write(json.dumps(line) + "\n")
    return 1 if errors else 0


async def query_handler(args: argparse.Namespace, settings: Settings) -> int:
    """Write the verdict and best matches for every valid line of the file."""
    repo = _repo(args, settings)
    if args.k < 1:
        raise UserError("--k must be at least 1")
    return await asyncio.to_thread(_run_query, settings, repo, args.file, args.output, args.k)


async def _last_sync(settings: Settings, repo: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    database = make_url(settings.db_url).database
    if not settings.is_postgres and (
        not database or not await asyncio.to_thread(Path(database).exists)
    ):
        return "never"

    from storage.db import Database
    from storage.sync_state import SyncStateRepository

    db = Database(settings.db_url)
    try:
        state = await SyncStateRepository(db).get(repo=repo)
    except (SQLAlchemyError, OSError):
        log.debug("no sync state readable", exc_info=True)
        return "never"
    finally:
        await db.close()
    if state is None or state.last_run_at is None:
        return "never"
    return f"{state.last_run_at:%Y-%m-%d %H:%M:%S} UTC ({state.issues_seen} issues read)"


async def stats_handler(args: argparse.Namespace, settings: Settings) -> int:
    """Print the document count, the last issue sync, the model and where the index lives."""
    from storage.adapter import vector_tag
    from storage.encoders.base import default_runtime
    from storage.vectors import (
        CHROMA_DIRNAME,
        VectorStore,
        collection_name,
        repository_key,
        shared_embedder,
    )

    repo = _repo(args, settings)
    count = 0
    # The runtime asked for, not loaded: stats never loads (or builds) the model.
    model = vector_tag(default_runtime())
    location = settings.chroma_url or str((settings.data_dir / CHROMA_DIRNAME).resolve())
    if settings.chroma_url or (settings.data_dir / CHROMA_DIRNAME).is_dir():
        store = await asyncio.to_thread(
            VectorStore.open,
            data_dir=settings.data_dir,
            url=settings.chroma_url,
            embedder=shared_embedder(),
            model=model,
        )
        count = await store.count(repo)
        location = store.location
        if repository_key(repo) in await asyncio.to_thread(store.stale_repositories_sync):
            model += (
                " (vectors of another model or runtime: the bot embeds them again when it starts)"
            )
    print(f"repository:  {repo}")
    print(f"documents:   {count}")
    print(f"model:       {model}")
    print(f"last sync:   {await _last_sync(settings, repo)}")
    print(f"store:       {location} (collection {collection_name(repo)})")
    return 0
