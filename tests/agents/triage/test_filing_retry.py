"""Which filing failures are retried by themselves, when, and how often."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.triage.filing_retry import FilingRetryPolicy
from bot.github import GitHubRejectedError, GitHubUnavailable

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POLICY = FilingRetryPolicy(limit=3, base_delay=timedelta(seconds=10))


def test_github_s_reset_time_is_kept_and_a_past_one_means_now() -> None:
    later = NOW + timedelta(minutes=7)
    limited = GitHubUnavailable("rate limited", retry_at=later)
    assert POLICY.next_try(limited, retries_done=0, now=NOW) == later
    stale = GitHubUnavailable("rate limited", retry_at=NOW - timedelta(minutes=1))
    assert POLICY.next_try(stale, retries_done=0, now=NOW) == NOW


def test_without_a_time_the_delay_doubles_up_to_the_cap() -> None:
    down = GitHubUnavailable("server error 502, still failing after 5 attempts")
    waits = [POLICY.next_try(down, retries_done=n, now=NOW) for n in range(4)]
    assert waits[:3] == [NOW + timedelta(seconds=s) for s in (10, 20, 40)]
    assert waits[3] is None, "no automatic retry past the limit"
    assert POLICY.next_try(TimeoutError(), retries_done=0, now=NOW) is not None


def test_a_refusal_waits_for_a_maintainer() -> None:
    refused = GitHubRejectedError("422 Validation Failed", status=422)
    assert POLICY.next_try(refused, retries_done=0, now=NOW) is None
    assert POLICY.next_try(ValueError("bad"), retries_done=0, now=NOW) is None
    never = FilingRetryPolicy(limit=0)
    assert never.next_try(GitHubUnavailable("down"), retries_done=0, now=NOW) is None
