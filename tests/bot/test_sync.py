"""IssueSync against the loopback fake, with its mark kept on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.github import GitHubClient, GitHubUnavailable, RetryPolicy
from bot.sandbox.fake_github import FakeGitHub
from bot.sync import IssueSync
from storage.db import Database
from storage.sync_state import SyncStateRepository

REPO = "acme/widgets"
LISTING = f"GET /repos/{REPO}/issues"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


class SleepRecorder:
    """Stands in for asyncio.sleep: remembers each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class RecordingIndex:
    """An indexer that keeps the latest record of every issue it was given."""

    def __init__(self) -> None:
        self.records: dict[int, dict[str, Any]] = {}
        self.calls: list[list[int]] = []

    async def __call__(self, repo: str, issues: list[dict[str, Any]]) -> None:
        assert repo == REPO
        self.calls.append([issue["number"] for issue in issues])
        for issue in issues:
            self.records[issue["number"]] = issue


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(repos=[REPO]) as server:
        yield server


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def github(fake: FakeGitHub, sleeps: SleepRecorder) -> GitHubClient:
    policy = RetryPolicy(attempts=4, base_delay=1, jitter=0, max_total_wait=120)
    return GitHubClient(token=fake.token, base_url=fake.url, retry=policy, sleep=sleeps)


def seed(fake: FakeGitHub, count: int, *, pulls_every: int = 0) -> None:
    """`count` issues updated one minute apart, with a pull request every `pulls_every`."""
    for i in range(count):
        fake.add_issue(
            REPO,
            title=f"issue {i}",
            body=f"body {i}",
            labels=["bug"] if i % 2 else [],
            created_at=T0 + timedelta(minutes=i),
            pull_request=bool(pulls_every) and i % pulls_every == 0,
        )


def issue_numbers(fake: FakeGitHub) -> set[int]:
    return {issue.number for issue in fake.issues_in(REPO)}


async def test_full_sync_pages_through_everything_and_skips_pull_requests(
    fake: FakeGitHub, github: GitHubClient, database: Database
) -> None:
    seed(fake, 260, pulls_every=20)
    index = RecordingIndex()
    stats = await IssueSync(github, SyncStateRepository(database), index).run(REPO)
    assert stats.full and stats.since is None
    assert set(index.records) == issue_numbers(fake)
    assert stats.fetched == len(issue_numbers(fake)) == 247
    assert stats.skipped_pull_requests == 13
    assert stats.pages == 3 == len(fake.requests_to("GET", f"/repos/{REPO}/issues"))
    record = index.records[2]
    assert record == {
        "number": 2,
        "title": "issue 1",
        "body": "body 1",
        "url": f"{fake.url}/{REPO}/issues/2",
        "state": "open",
        "labels": ["bug"],
    }
    query = fake.requests_to("GET", f"/repos/{REPO}/issues")[0].query
    assert query == {
        "state": "all",
        "sort": "updated",
        "direction": "asc",
        "per_page": "100",
        "page": "1",
    }
    newest = max(issue.updated_at for issue in fake.issues_in(REPO, include_pull_requests=True))
    assert stats.high_water_mark == newest
    saved = await SyncStateRepository(database).get(repo=REPO)
    assert saved is not None and saved.since == newest and saved.issues_seen == 247


async def test_second_sync_reads_only_what_changed(
    fake: FakeGitHub, github: GitHubClient, database: Database
) -> None:
    seed(fake, 120)
    state = SyncStateRepository(database)
    index = RecordingIndex()
    sync = IssueSync(github, state, index)
    first = await sync.run(REPO)
    mark = first.high_water_mark
    assert mark is not None

    fake.close_issue(REPO, 5, "completed", at=mark + timedelta(hours=1))
    fake.close_issue(REPO, 60, "not_planned", at=mark + timedelta(hours=2))
    fake.add_issue(REPO, title="brand new", created_at=mark + timedelta(hours=3))
    index.calls.clear()
    second = await sync.run(REPO)

    expected = {i.number for i in fake.issues_in(REPO) if i.updated_at >= mark}
    assert {5, 60, 121} <= expected and len(expected) < 10
    assert {number for call in index.calls for number in call} == expected
    assert second.fetched == len(expected) and not second.full
    assert second.since == mark
    since_sent = fake.requests_to("GET", f"/repos/{REPO}/issues")[-1].query["since"]
    assert since_sent == mark.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert index.records[60]["state"] == "closed"
    assert {(c.number, c.state, c.state_reason) for c in second.state_changes} == {
        (5, "closed", "completed"),
        (60, "closed", "not_planned"),
    }
    assert second.high_water_mark == mark + timedelta(hours=3)

    third = await IssueSync(github, state, index).run(REPO, full=True)
    assert third.full and third.since is None and third.fetched == 121


async def test_rate_limit_during_sync_waits_and_finishes(
    fake: FakeGitHub, github: GitHubClient, database: Database, sleeps: SleepRecorder
) -> None:
    seed(fake, 250)
    index = RecordingIndex()

    async def index_then_limit(repo: str, issues: list[dict[str, Any]]) -> None:
        if not index.calls:
            fake.secondary_limit_next(LISTING, retry_after=5)
            fake.primary_limit_next(LISTING, reset_in=20)
        await index(repo, issues)

    stats = await IssueSync(github, SyncStateRepository(database), index_then_limit).run(REPO)
    assert set(index.records) == issue_numbers(fake)
    assert stats.fetched == 250
    assert sleeps.waits[0] == 5.0 and 18 <= sleeps.waits[1] <= 22
    assert len(sleeps.waits) == 2


async def test_sync_cut_short_resumes_from_the_saved_mark(
    fake: FakeGitHub, github: GitHubClient, database: Database
) -> None:
    seed(fake, 250)
    state = SyncStateRepository(database)
    index = RecordingIndex()

    async def index_then_block(repo: str, issues: list[dict[str, Any]]) -> None:
        if not index.calls:
            fake.primary_limit_next(LISTING, reset_in=3600)
        await index(repo, issues)

    with pytest.raises(GitHubUnavailable):
        await IssueSync(github, state, index_then_block).run(REPO)
    saved = await state.get(repo=REPO)
    assert saved is not None and saved.since == T0 + timedelta(minutes=99)
    assert len(index.records) == 100

    resumed = await IssueSync(github, state, index).run(REPO)
    assert not resumed.full and resumed.since == T0 + timedelta(minutes=99)
    assert set(index.records) == issue_numbers(fake)
    assert resumed.fetched == 151


async def test_known_states_are_read_before_the_page_is_indexed(
    fake: FakeGitHub, github: GitHubClient, database: Database
) -> None:
    seed(fake, 3)
    index = RecordingIndex()

    async def indexed_states(repo: str, numbers: list[int]) -> dict[int, str]:
        return {n: index.records[n]["state"] for n in numbers if n in index.records}

    sync = IssueSync(github, SyncStateRepository(database), index, known_states=indexed_states)
    assert (await sync.run(REPO)).state_changes == []
    later = T0 + timedelta(days=1)
    fake.close_issue(REPO, 2, "completed", at=later)
    closed = await sync.run(REPO)
    assert [(c.number, c.state, c.state_reason) for c in closed.state_changes] == [
        (2, "closed", "completed")
    ]
    fake.reopen_issue(REPO, 2, at=later + timedelta(hours=1))
    reopened = await sync.run(REPO)
    assert [(c.number, c.state, c.state_reason) for c in reopened.state_changes] == [
        (2, "open", "reopened")
    ]


async def test_empty_repository_records_a_run(
    fake: FakeGitHub, github: GitHubClient, database: Database
) -> None:
    index = RecordingIndex()
    stats = await IssueSync(github, SyncStateRepository(database), index).run(REPO)
    assert (stats.fetched, stats.pages, index.calls) == (0, 1, [])
    saved = await SyncStateRepository(database).get(repo=REPO)
    assert saved is not None and saved.since is None and saved.last_run_at is not None
