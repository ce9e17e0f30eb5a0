"""When a failed filing is retried by itself: passing failures only, at GitHub's time, capped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.github import GitHubUnavailable

#: Actor of the decisions the scheduler makes to retry a filing by itself.
AUTO_RETRY_ACTOR = "scheduler"


def is_transient(exc: BaseException) -> bool:
    """A failure that waiting can fix: rate limit, 5xx or network after the client's retries.

    A refusal (422 on a label, 403, 404, a missing repository) is not: it needs an edit.
    """
    return isinstance(exc, GitHubUnavailable | TimeoutError | ConnectionError)


@dataclass(frozen=True, kw_only=True)
class FilingRetryPolicy:
    """How often and how soon a filing that failed for a passing reason is retried by itself.

    Attributes:
        limit: Automatic retries after a maintainer's Approve or Retry (0: never).
        base_delay: Wait before the first one when GitHub names no time; doubles each time.
        max_delay: Longest such wait (never shorter than `base_delay`).
    """

    limit: int = 3
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(minutes=30)

    def next_try(
        self, exc: BaseException, *, retries_done: int, now: datetime | None = None
    ) -> datetime | None:
        """When to retry after `exc`, or None when a maintainer has to act."""
        if not is_transient(exc) or retries_done >= self.limit:
            return None
        now = now or datetime.now(UTC)
        named: object = getattr(exc, "retry_at", None)
        if isinstance(named, datetime):
            return max(named, now)
        delay: timedelta = self.base_delay * 2**retries_done
        return now + min(delay, max(self.max_delay, self.base_delay))
