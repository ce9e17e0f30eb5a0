"""Keep the duplicate index's issues those GitHub still has: a periodic full comparison.

The incremental sync only sees issues that changed; an issue that was deleted, transferred
to another repository or hidden by GitHub as spam simply stops being listed. Every
GITHUB_RECONCILE_INTERVAL the reconciler lists the repository's issue numbers (one request
per 100 issues) and takes every indexed issue that is no longer there, or is labelled spam,
out of the index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agents.dedup.documents import is_spam
from agents.dedup.finder import DuplicateIndex
from bot.github import GitHubClient
from storage.sync_state import SyncStateRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What one comparison found."""

    repo: str
    listed: int
    removed: list[int]


class IndexReconciler:
    """Removes from the index the issues GitHub no longer lists."""

    def __init__(
        self,
        github: GitHubClient,
        state: SyncStateRepository,
        index: DuplicateIndex,
        *,
        interval: timedelta,
    ) -> None:
        self.github = github
        self.state = state
        self.index = index
        self.interval = interval

    async def due(self, repo: str) -> bool:
        """Whether `repo` was last compared at least `interval` ago (or never)."""
        stored = await self.state.get(repo=repo)
        last = stored.reconciled_at if stored is not None else None
        return last is None or datetime.now(UTC) - last >= self.interval

    async def run_if_due(self, repo: str) -> Reconciliation | None:
        """`run` when `due`."""
        return await self.run(repo) if await self.due(repo) else None

    async def run(self, repo: str) -> Reconciliation:
        """Compare `repo`'s indexed issues with GitHub's and remove the ones gone.

        The index is read before GitHub is listed, so an issue filed meanwhile is never
        taken for a deleted one.
        """
        indexed = await self.index.issue_numbers(repo)
        listed: dict[int, list[str]] = {}
        async for page in self.github.iter_issues_since(repo, None):
            listed.update((issue.number, issue.labels) for issue in page.issues)
        kept = {number for number, labels in listed.items() if not is_spam(labels)}
        removed = sorted(indexed - kept)
        if removed:
            await self.index.remove_issues(repo, removed)
            log.info(
                "index of %s: %d issue(s) gone from GitHub or marked spam removed: %s",
                repo,
                len(removed),
                ", ".join(f"#{n}" for n in removed[:20]),
            )
        await self.state.mark_reconciled(repo=repo)
        return Reconciliation(repo=repo, listed=len(listed), removed=removed)
