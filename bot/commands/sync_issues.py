"""`iterateswarm sync-issues [--full]`: copy the repository's issues into the duplicate index."""

from __future__ import annotations

import argparse
import logging

from bot.cli import UserError
from bot.github import GitHubClient, GitHubError, split_repo
from bot.settings import Settings
from bot.sync import Indexer, IssueSync, KnownStates, SyncStats
from storage.db import Database, upgrade
from storage.sync_state import SyncStateRepository

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `sync-issues` subcommand."""
    parser = subparsers.add_parser(
        "sync-issues",
        help="index the repository's GitHub issues for duplicate detection",
        description="Read the issues of GITHUB_OWNER/GITHUB_REPO (or --repo) and add them to "
        "the duplicate index. Without --full only issues updated since the last sync are read.",
    )
    parser.add_argument("--full", action="store_true", help="read every issue again")
    parser.add_argument("--repo", help="owner/name to sync instead of GITHUB_OWNER/GITHUB_REPO")
    parser.set_defaults(handler=handler)


def _repo_for(args: argparse.Namespace, settings: Settings) -> str:
    repo = args.repo or settings.github.full_name
    if not repo:
        raise UserError("no repository to sync: set GITHUB_OWNER and GITHUB_REPO, or pass --repo")
    try:
        split_repo(repo)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    return str(repo)


async def sync_issues(
    settings: Settings,
    *,
    repo: str,
    full: bool,
    indexer: Indexer,
    github: GitHubClient,
    known_states: KnownStates | None = None,
) -> SyncStats:
    """Run one sync of `repo` into `indexer`, keeping the mark in the configured database."""
    await upgrade(settings.db_url)
    db = Database(settings.db_url)
    try:
        sync = IssueSync(github, SyncStateRepository(db), indexer, known_states=known_states)
        return await sync.run(repo, full=full)
    finally:
        await db.close()


async def handler(args: argparse.Namespace, settings: Settings) -> int:
    """Sync once and print what was read."""
    if not settings.github.has_credentials:
        raise UserError(
            "neither GITHUB_TOKEN nor the GITHUB_APP_* variables are set; "
            "sync-issues needs them to read the issues"
        )
    repo = _repo_for(args, settings)
    from agents.dedup.finder import DuplicateIndex

    github = GitHubClient.from_settings(settings.github)
    index = await DuplicateIndex.open(settings)
    try:
        stats = await sync_issues(
            settings,
            repo=repo,
            full=args.full,
            indexer=index.upsert_issues,
            github=github,
            known_states=index.known_states,
        )
    except GitHubError as exc:
        print(f"iterateswarm: sync of {repo} failed: {exc}")
        return 1
    finally:
        index.close()
    mark = f"{stats.high_water_mark:%Y-%m-%d %H:%M:%S} UTC" if stats.high_water_mark else "none"
    print(
        f"{repo}: {stats.fetched} issues indexed from {stats.pages} pages "
        f"({'full' if stats.full else 'incremental'}, {stats.skipped_pull_requests} pull "
        f"requests skipped, {len(stats.state_changes)} changed state) "
        f"in {stats.duration:.1f}s; updated up to {mark}"
    )
    return 0
