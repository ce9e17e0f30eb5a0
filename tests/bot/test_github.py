"""GitHubClient against the loopback fake: filing, finding by marker, retries and limits."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from bot.github import (
    GitHubAuthError,
    GitHubClient,
    GitHubNotFoundError,
    GitHubRejectedError,
    GitHubUnavailable,
    RepoNotAllowedError,
    RetryPolicy,
    item_marker,
)
from bot.sandbox.fake_github import FakeGitHub
from bot.settings import GitHubSettings

REPO = "acme/widgets"
ISSUES = f"POST /repos/{REPO}/issues"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


class SleepRecorder:
    """Stands in for asyncio.sleep: remembers each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(repos=[REPO, "acme/private"]) as server:
        yield server


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def make_client(fake: FakeGitHub, sleeps: SleepRecorder, **options: object) -> GitHubClient:
    policy = options.pop("retry", RetryPolicy(attempts=4, base_delay=1, jitter=0))
    return GitHubClient(
        token=SecretStr(fake.token),
        base_url=fake.url,
        allowlist=[REPO.upper()],
        retry=policy,  # type: ignore[arg-type]
        sleep=sleeps,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(fake: FakeGitHub, sleeps: SleepRecorder) -> GitHubClient:
    return make_client(fake, sleeps)


async def test_create_issue_writes_the_marker_last_then_finds_it(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    ref = await client.create_issue(
        repo=REPO,
        title="Crash on save",
        body="Steps to reproduce\n",
        labels=["bug", "from-discord"],
        item_id=17,
    )
    [stored] = fake.issues_in(REPO)
    assert (ref.number, ref.title, ref.state) == (stored.number, "Crash on save", "open")
    assert ref.url.endswith(f"/{REPO}/issues/{stored.number}")
    assert stored.labels == ["bug", "from-discord"]
    assert stored.body == f"Steps to reproduce\n\n{item_marker(17)}\n"
    found = await client.find_filed_issue(repo=REPO, item_id=17)
    assert found is not None and found.number == ref.number
    assert await client.find_filed_issue(repo=REPO, item_id=18) is None
    listing = fake.requests_to("GET", f"/repos/{REPO}/issues")[-1]
    assert listing.query["creator"] == fake.login
    assert (listing.query["state"], listing.query["sort"]) == ("all", "created")
    assert listing.query["direction"] == "desc"
    assert fake.requests_to("GET", "/user") == [], "the identity comes from GraphQL's viewer"
    assert len(fake.requests_to("POST", "/graphql")) == 1, "and is asked once"


async def test_find_filed_issue_needs_the_bots_issue_with_the_item_marker_last(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    marker = item_marker(5)
    fake.add_issue(REPO, title="quoted by a user", body=f"see {marker}", author="octocat")
    fake.add_issue(REPO, title="a pull request", body=marker, pull_request=True)
    fake.add_issue(REPO, title="item 6 quoting it", body=f"{marker}\n\n{item_marker(6)}\n")
    assert await client.find_filed_issue(repo=REPO, item_id=5) is None
    mine = fake.add_issue(REPO, title="ours", body=f"text\n\n{marker}\n")
    found = await client.find_filed_issue(repo=REPO, item_id=5)
    assert found is not None and found.number == mine.number


async def test_find_filed_issue_reads_past_the_first_page(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    fake.add_issue(REPO, title="oldest", body=item_marker(1), created_at=T0)
    for i in range(150):
        fake.add_issue(REPO, title=f"newer {i}", created_at=T0 + timedelta(minutes=i + 1))
    found = await client.find_filed_issue(repo=REPO, item_id=1)
    assert found is not None and found.number == 1
    assert len(fake.requests_to("GET", f"/repos/{REPO}/issues")) == 2


async def test_find_filed_issue_stops_at_since(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.add_issue(REPO, title="old one", body=item_marker(3), created_at=T0, updated_at=T0)
    since = T0 + timedelta(days=1)
    assert await client.find_filed_issue(repo=REPO, item_id=3, since=since) is None
    assert await client.find_filed_issue(repo=REPO, item_id=3, since=T0) is not None


async def test_find_filed_issue_tolerates_whole_second_timestamps_and_skew(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    fake.add_issue(REPO, title="filed", body=item_marker(4), created_at=T0, updated_at=T0)
    since = T0 + timedelta(seconds=0.9)  # our clock said a bit later than GitHub's stamp
    assert await client.find_filed_issue(repo=REPO, item_id=4, since=since) is not None


async def test_writes_outside_the_allowlist_are_refused(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    with pytest.raises(RepoNotAllowedError, match="acme/private"):
        await client.create_issue(repo="acme/private", title="t", body="b", labels=[], item_id=1)
    fake.add_issue("acme/private", title="existing")
    with pytest.raises(RepoNotAllowedError):
        await client.comment(repo="acme/private", number=1, body="hello")
    assert not [r for r in fake.requests if r.method == "POST"]
    assert fake.issues_in("acme/private")[0].comments == []


async def test_502_then_success(
    fake: FakeGitHub, client: GitHubClient, sleeps: SleepRecorder
) -> None:
    fake.fail_next(ISSUES, status=502)
    ref = await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=1)
    assert [i.number for i in fake.issues_in(REPO)] == [ref.number]
    assert len(fake.requests_to("POST", f"/repos/{REPO}/issues")) == 2
    assert sleeps.waits == [1.0]


async def test_backoff_doubles(
    fake: FakeGitHub, client: GitHubClient, sleeps: SleepRecorder
) -> None:
    fake.fail_next(ISSUES, status=503, times=3)
    await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=1)
    assert sleeps.waits == [1.0, 2.0, 4.0]


async def test_secondary_rate_limit_honours_retry_after(
    fake: FakeGitHub, client: GitHubClient, sleeps: SleepRecorder
) -> None:
    fake.secondary_limit_next(ISSUES, retry_after=7)
    await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=1)
    assert sleeps.waits == [7.0]
    assert len(fake.issues_in(REPO)) == 1


async def test_429_with_retry_after(
    fake: FakeGitHub, client: GitHubClient, sleeps: SleepRecorder
) -> None:
    fake.fail_next(f"GET /repos/{REPO}/labels", status=429, headers={"Retry-After": "3"})
    assert "bug" in await client.list_labels(repo=REPO)
    assert sleeps.waits == [3.0]


async def test_primary_rate_limit_waits_for_the_reset(
    fake: FakeGitHub, client: GitHubClient, sleeps: SleepRecorder
) -> None:
    reset = fake.primary_limit_next(ISSUES, reset_in=30)
    before = time.time()
    await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=1)
    [wait] = sleeps.waits
    assert reset - before <= wait <= reset - before + 2
    assert len(fake.issues_in(REPO)) == 1


async def test_rate_limit_beyond_the_budget_fails_at_once(
    fake: FakeGitHub, sleeps: SleepRecorder
) -> None:
    client = make_client(fake, sleeps, retry=RetryPolicy(attempts=4, max_total_wait=60))
    reset = fake.primary_limit_next(ISSUES, reset_in=3600)
    with pytest.raises(GitHubUnavailable) as caught:
        await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=1)
    assert sleeps.waits == []
    assert caught.value.retry_at is not None
    assert caught.value.retry_at >= datetime.fromtimestamp(reset, UTC)


async def test_connection_reset_is_retried(
    fake: FakeGitHub, client: GitHubClient, sleeps: SleepRecorder
) -> None:
    fake.reset_next(ISSUES)
    ref = await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=1)
    assert [i.number for i in fake.issues_in(REPO)] == [ref.number]
    assert len(sleeps.waits) == 1


async def test_lost_answer_is_not_filed_twice(fake: FakeGitHub, client: GitHubClient) -> None:
    fake.reset_next(ISSUES, after_processing=True)
    ref = await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=9)
    assert [i.number for i in fake.issues_in(REPO)] == [ref.number]
    assert len(fake.requests_to("POST", f"/repos/{REPO}/issues")) == 1


async def test_slow_answer_is_recovered_by_marker(fake: FakeGitHub, sleeps: SleepRecorder) -> None:
    client = make_client(fake, sleeps, timeout=0.3)
    fake.delay_next(ISSUES, seconds=5)
    ref = await client.create_issue(repo=REPO, title="t", body="b", labels=["bug"], item_id=11)
    assert [i.number for i in fake.issues_in(REPO)] == [ref.number]
    assert len(fake.requests_to("POST", f"/repos/{REPO}/issues")) == 1


async def test_exhausted_retries_raise_unavailable(
    fake: FakeGitHub, client: GitHubClient, sleeps: SleepRecorder
) -> None:
    fake.fail_next(ISSUES, status=502, times=10)
    with pytest.raises(GitHubUnavailable, match="502"):
        await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=1)
    assert len(fake.requests_to("POST", f"/repos/{REPO}/issues")) == 4
    assert len(sleeps.waits) == 3
    assert fake.issues_in(REPO) == []


async def test_network_down_raises_unavailable(sleeps: SleepRecorder) -> None:
    async with FakeGitHub() as gone:
        url = gone.url
    client = GitHubClient(
        token="t", base_url=url, retry=RetryPolicy(attempts=2, jitter=0), sleep=sleeps
    )
    with pytest.raises(GitHubUnavailable, match="network error"):
        await client.get_issue(repo=REPO, number=1)
    assert sleeps.waits == [1.0]


async def test_missing_issue_is_none_and_bad_input_is_rejected(
    fake: FakeGitHub, client: GitHubClient, sleeps: SleepRecorder
) -> None:
    assert await client.get_issue(repo=REPO, number=99) is None
    assert await client.get_repo("acme/missing") is None
    with pytest.raises(GitHubNotFoundError):
        await client.comment(repo=REPO, number=99, body="hi")
    with pytest.raises(GitHubRejectedError) as caught:
        await client.create_issue(repo=REPO, title=" ", body="b", labels=[], item_id=1)
    assert caught.value.status == 422
    assert sleeps.waits == []


async def test_get_issue_and_comment(fake: FakeGitHub, client: GitHubClient) -> None:
    issue = fake.add_issue(REPO, title="Dark mode", body="please")
    fake.close_issue(REPO, issue.number, "not_planned")
    ref = await client.get_issue(repo=REPO, number=issue.number)
    assert ref is not None and (ref.title, ref.state, ref.body) == ("Dark mode", "closed", "please")
    snapshot = await client.get_issue_snapshot(repo=REPO, number=issue.number)
    assert snapshot is not None and snapshot.state_reason == "not_planned"
    await client.comment(repo=REPO, number=issue.number, body="Also asked on Discord")
    assert [c["body"] for c in issue.comments] == ["Also asked on Discord"]


async def test_list_comments_since_a_time_across_pages(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    issue = fake.add_issue(REPO, title="Export crashes", body="it crashes")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute in range(105):
        fake.add_comment(
            REPO,
            issue.number,
            f"note {minute}",
            author="maria",
            association="MEMBER" if minute % 2 else "NONE",
            at=start + timedelta(minutes=minute),
        )
    everything = await client.list_comments(repo=REPO, number=issue.number)
    assert len(everything) == 105
    recent = await client.list_comments(
        repo=REPO, number=issue.number, since=start + timedelta(minutes=100)
    )
    assert [c.body for c in recent] == [f"note {m}" for m in range(100, 105)]
    assert [c.association for c in recent] == ["NONE", "MEMBER", "NONE", "MEMBER", "NONE"]
    assert recent[0].author == "maria" and recent[0].url.endswith(f"#issuecomment-{recent[0].id}")


async def test_token_check_rate_limit_and_repo(fake: FakeGitHub, client: GitHubClient) -> None:
    info = await client.whoami()
    assert info.login == fake.login and info.scopes == ["repo"]
    assert client.last_rate_limit is not None
    limits = await client.rate_limit()
    assert (limits.limit, limits.remaining) == (fake.rate_limit, fake.rate_remaining)
    assert limits.reset == datetime.fromtimestamp(fake.rate_reset, UTC)
    repo = await client.get_repo(REPO)
    assert repo is not None and repo.full_name == REPO and repo.can_push is True


async def test_bad_token_is_an_auth_error_and_never_logged(
    fake: FakeGitHub, sleeps: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "ghp_wrongwrongwrong"
    client = GitHubClient(token=secret, base_url=fake.url, sleep=sleeps)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GitHubAuthError) as caught:
        await client.whoami()
    fake.fail_next("GET /rate_limit", status=500, times=9)
    with pytest.raises(GitHubUnavailable):
        await client.rate_limit()
    assert secret not in caplog.text
    assert secret not in str(caught.value) and secret not in repr(client)
    assert fake.requests[0].authorized is False


def test_from_settings_uses_api_url_and_allowlist() -> None:
    settings = GitHubSettings(
        GITHUB_TOKEN="abc", GITHUB_OWNER="Acme", GITHUB_REPO="Widgets", GITHUB_API_URL="http://h/"
    )
    client = GitHubClient.from_settings(settings)
    assert client.base_url == "http://h"
    assert client.allowlist == {"acme/widgets"}
    with pytest.raises(ValueError, match="token"):
        GitHubClient.from_settings(GitHubSettings(GITHUB_TOKEN=""))


_WARM_UP_PROBE = """
import asyncio, sys
from bot.github import GitHubClient
from bot.sandbox.fake_github import FakeGitHub

async def main():
    async with FakeGitHub(repos=["acme/widgets"]) as fake:
        client = GitHubClient(token=fake.token, base_url=fake.url, allowlist=["acme/widgets"])
        await client.warm_up()
        before = {m for m in sys.modules if m.startswith("githubkit")}
        ref = await client.create_issue(
            repo="acme/widgets", title="t", body="b", labels=["bug"], item_id=1
        )
        await client.identity()
        await client.whoami()
        await client.rate_limit()
        await client.get_repo("acme/widgets")
        await client.get_issue(repo="acme/widgets", number=ref.number)
        await client.comment(repo="acme/widgets", number=ref.number, body="c")
        await client.list_labels(repo="acme/widgets")
        async for _ in client.iter_issues_since("acme/widgets", since=None):
            pass
        await client.aclose()
        print(sorted({m for m in sys.modules if m.startswith("githubkit")} - before))

asyncio.run(main())
"""


def test_warm_up_leaves_no_model_to_import_on_the_event_loop() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _WARM_UP_PROBE],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


async def test_identity_falls_back_to_the_user_when_graphql_refuses_a_token(
    fake: FakeGitHub, client: GitHubClient
) -> None:
    fake.fail_next("POST /graphql", status=403, body={"message": "Resource not accessible"})
    assert await client.identity() == fake.login
    assert len(fake.requests_to("GET", "/user")) == 1
    assert await client.identity() == fake.login, "remembered"
    assert len(fake.requests) == 2
