"""`IssueSync`: copy a repository's issues into the duplicate index, full or since the last run."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.github import GitHubClient, IssueSnapshot
from storage.sync_state import SyncStateRepository

log = logging.getLogger(__name__)

#: Receives each page of issues as {number, title, body, url, state, labels} dicts.
Indexer = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
#: Given a repository and issue numbers, the state last indexed for those it knows;
#: asked before each page is indexed.
KnownStates = Callable[[str, list[int]], Awaitable[dict[int, str]]]


@dataclass(frozen=True, slots=True)
class StateChange:
    """An issue that was closed or reopened since it was last seen."""

    number: int
    state: str
    state_reason: str | None
    at: datetime | None = None
    """When it happened: the close time, or the last update for a reopened issue."""


@dataclass(slots=True)
class SyncStats:
    """What one sync run did."""

    repo: str
    full: bool
    since: datetime | None = None
    high_water_mark: datetime | None = None
    fetched: int = 0
    skipped_pull_requests: int = 0
    pages: int = 0
    duration: float = 0.0
    state_changes: list[StateChange] = field(default_factory=list)
    labels: dict[int, list[str]] = field(default_factory=dict)
    """Labels of every fetched issue that carries any, by issue number."""
    updated: list[int] = field(default_factory=list)
    """Numbers of every fetched issue (updated since the previous run), in page order."""


class IssueSync:
    """Feed GitHub issues to an indexer, remembering how far it got per repository.

    The first run (or `full=True`) reads every issue; later runs ask only for issues
    updated at or after the stored high-water mark. The mark is saved after every page,
    so a run cut short by a crash or an exhausted rate limit resumes where it stopped.
    """

    def __init__(
        self,
        github: GitHubClient,
        state: SyncStateRepository,
        indexer: Indexer,
        *,
        known_states: KnownStates | None = None,
    ) -> None:
        self.github = github
        self.state = state
        self.indexer = indexer
        self.known_states = known_states

    async def run(self, repo: str, *, full: bool = False) -> SyncStats:
        """Sync one repository (owner/name).

        Args:
            repo: The repository to read.
            full: Ignore the stored mark and read every issue.

        Returns:
            Counts, the new mark and the issues whose state changed. Without a
            `known_states` lookup, a change is an issue closed after the previous mark.

        Raises:
            GitHubUnavailable: GitHub stayed unreachable; progress so far is kept.
        """
        started = time.monotonic()
        stored = await self.state.get(repo=repo)
        previous_mark = stored.since if stored is not None else None
        stats = SyncStats(repo=repo, full=full or previous_mark is None)
        stats.since = None if stats.full else previous_mark
        stats.high_water_mark = previous_mark
        log.info(
            "issue sync of %s starting (%s)",
            repo,
            "full" if stats.full else f"since {previous_mark:%Y-%m-%dT%H:%M:%SZ}",
        )
        async for page in self.github.iter_issues_since(repo, stats.since):
            stats.pages += 1
            stats.fetched += len(page.issues)
            stats.skipped_pull_requests += page.pull_requests_skipped
            if page.issues:
                stats.state_changes += await self._state_changes(repo, page.issues, previous_mark)
                stats.labels.update({i.number: list(i.labels) for i in page.issues if i.labels})
                stats.updated += [issue.number for issue in page.issues]
                await self.indexer(repo, [issue.as_index_record() for issue in page.issues])
            if page.newest_update is not None and (
                stats.high_water_mark is None or page.newest_update > stats.high_water_mark
            ):
                stats.high_water_mark = page.newest_update
            await self.state.save(repo=repo, since=stats.high_water_mark, issues_seen=stats.fetched)
        if stats.pages == 0:
            await self.state.save(repo=repo, since=stats.high_water_mark, issues_seen=0)
        stats.duration = time.monotonic() - started
        log.info(
            "issue sync of %s done: %d issues in %d pages (%d pull requests skipped, "
            "%d state changes) in %.1fs",
            repo,
            stats.fetched,
            stats.pages,
            stats.skipped_pull_requests,
            len(stats.state_changes),
            stats.duration,
        )
        return stats

    async def _state_changes(
        self, repo: str, issues: list[IssueSnapshot], previous_mark: datetime | None
    ) -> list[StateChange]:
        if self.known_states is not None:
            known = await self.known_states(repo, [issue.number for issue in issues])
            return [
                StateChange(issue.number, issue.state, issue.state_reason, _changed_at(issue))
                for issue in issues
                if issue.number in known and known[issue.number] != issue.state
            ]
        if previous_mark is None:
            return []
        return [
            StateChange(issue.number, issue.state, issue.state_reason, _changed_at(issue))
            for issue in issues
            if issue.state == "closed"
            and issue.closed_at is not None
            and issue.closed_at >= previous_mark
        ]


def _changed_at(issue: IssueSnapshot) -> datetime:
    return issue.closed_at if issue.state == "closed" and issue.closed_at else issue.updated_at
