"""The fake GitHub answers as githubkit expects: every response parses into its models."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from githubkit import GitHub, TokenAuthStrategy
from githubkit.exception import (
    PrimaryRateLimitExceeded,
    RequestError,
    RequestFailed,
    SecondaryRateLimitExceeded,
)

from bot.sandbox.fake_github import FakeGitHub

REPO = "acme/widgets"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(repos=[REPO, "acme/other"]) as server:
        yield server


def kit(fake: FakeGitHub, token: str | None = None, timeout: float = 10) -> GitHub:
    return GitHub(
        TokenAuthStrategy(token or fake.token),
        base_url=fake.url,
        auto_retry=False,
        http_cache=False,
        trust_env=False,
        timeout=timeout,
    )


async def test_every_route_validates_against_githubkit_models(fake: FakeGitHub) -> None:
    gh = kit(fake)
    fake.add_issue(REPO, title="a pull request", pull_request=True)
    user = (await gh.rest.users.async_get_authenticated()).parsed_data
    assert user.login == fake.login
    repo = (await gh.rest.repos.async_get("acme", "widgets")).parsed_data
    assert repo.full_name == REPO
    created = await gh.rest.issues.async_create(
        "acme", "widgets", title="Crash on save", body="steps", labels=["bug", "brand-new"]
    )
    assert created.status_code == 201
    issue = created.parsed_data
    assert [label.name for label in issue.labels] == ["bug", "brand-new"]  # type: ignore[union-attr]
    assert issue.html_url.endswith(f"/{REPO}/issues/{issue.number}")
    fetched = (await gh.rest.issues.async_get("acme", "widgets", issue.number)).parsed_data
    assert fetched.body == "steps"
    comment = await gh.rest.issues.async_create_comment("acme", "widgets", issue.number, body="hi")
    assert comment.parsed_data.body == "hi"
    comments = (
        await gh.rest.issues.async_list_comments("acme", "widgets", issue.number)
    ).parsed_data
    assert [c.id for c in comments] == [comment.parsed_data.id]
    closed = await gh.rest.issues.async_update(
        "acme", "widgets", issue.number, state="closed", state_reason="not_planned"
    )
    assert (closed.parsed_data.state, closed.parsed_data.state_reason) == ("closed", "not_planned")
    assert closed.parsed_data.closed_at is not None
    labels = (await gh.rest.issues.async_list_labels_for_repo("acme", "widgets")).parsed_data
    assert {label.name for label in labels} >= {"bug", "enhancement", "question", "brand-new"}
    limits = (await gh.rest.rate_limit.async_get()).parsed_data
    assert limits.resources.core.limit == fake.rate_limit
    assert limits.resources.core.remaining == fake.rate_remaining


async def test_listing_filters_sorts_and_marks_pull_requests(fake: FakeGitHub) -> None:
    gh = kit(fake)
    for i in range(5):
        fake.add_issue(REPO, title=f"issue {i}", created_at=T0 + timedelta(hours=i))
    fake.add_issue(REPO, title="by someone else", author="octocat", created_at=T0)
    fake.add_issue(REPO, title="pr", pull_request=True, created_at=T0 + timedelta(hours=9))
    fake.close_issue(REPO, 2, at=T0 + timedelta(days=1))

    open_only = (await gh.rest.issues.async_list_for_repo("acme", "widgets")).parsed_data
    assert 2 not in {i.number for i in open_only}
    mine = (
        await gh.rest.issues.async_list_for_repo(
            "acme", "widgets", state="all", creator=fake.login, sort="created", direction="desc"
        )
    ).parsed_data
    assert [i.number for i in mine] == [7, 5, 4, 3, 2, 1]
    assert [i.number for i in mine if i.pull_request] == [7]
    recent = (
        await gh.rest.issues.async_list_for_repo(
            "acme", "widgets", state="all", since=T0 + timedelta(hours=3), sort="updated"
        )
    ).parsed_data
    assert {i.number for i in recent} == {2, 4, 5, 7}


async def test_pagination_follows_link_headers(fake: FakeGitHub) -> None:
    for i in range(230):
        fake.add_issue(REPO, title=f"issue {i}", created_at=T0 + timedelta(minutes=i))
    gh = kit(fake)
    seen: list[int] = []
    page = 1
    links: list[str] = []
    while True:
        response = await gh.rest.issues.async_list_for_repo(
            "acme", "widgets", per_page=100, page=page, sort="created", direction="asc"
        )
        seen += [i.number for i in response.parsed_data]
        links.append(response.headers.get("link", ""))
        if 'rel="next"' not in links[-1]:
            break
        page += 1
    assert seen == list(range(1, 231))
    assert page == 3
    assert 'rel="last"' in links[0] and "page=3" in links[0]
    assert 'rel="prev"' in links[2]


async def test_requests_need_the_token(fake: FakeGitHub) -> None:
    gh = kit(fake, token="wrong")
    with pytest.raises(RequestFailed) as caught:
        await gh.rest.users.async_get_authenticated()
    assert caught.value.response.status_code == 401
    assert fake.requests[-1].authorized is False


async def test_unknown_repo_and_issue_are_404(fake: FakeGitHub) -> None:
    gh = kit(fake)
    for call in (
        gh.rest.repos.async_get("acme", "missing"),
        gh.rest.issues.async_get("acme", "widgets", 42),
    ):
        with pytest.raises(RequestFailed) as caught:
            await call
        assert caught.value.response.status_code == 404


async def test_scripted_status_then_normal(fake: FakeGitHub) -> None:
    gh = kit(fake)
    route = f"POST /repos/{REPO}/issues"
    fake.fail_next(route, status=502, times=2)
    for _ in range(2):
        with pytest.raises(RequestFailed) as caught:
            await gh.rest.issues.async_create("acme", "widgets", title="x")
        assert caught.value.response.status_code == 502
    assert fake.issues_in(REPO) == []
    await gh.rest.issues.async_create("acme", "widgets", title="x")
    assert [i.title for i in fake.issues_in(REPO)] == ["x"]
    assert fake.pending_faults(route) == 0


async def test_rate_limit_faults_look_like_github(fake: FakeGitHub) -> None:
    gh = kit(fake)
    fake.secondary_limit_next("GET /user", retry_after=7)
    with pytest.raises(SecondaryRateLimitExceeded) as secondary:
        await gh.rest.users.async_get_authenticated()
    assert secondary.value.response.status_code == 403
    assert secondary.value.retry_after == timedelta(seconds=7)
    reset = fake.primary_limit_next("GET /user", reset_in=60)
    with pytest.raises(PrimaryRateLimitExceeded) as primary:
        await gh.rest.users.async_get_authenticated()
    assert primary.value.response.headers["x-ratelimit-reset"] == str(reset)
    assert reset > time.time()


async def test_connection_reset_and_lost_answer(fake: FakeGitHub) -> None:
    gh = kit(fake)
    route = f"POST /repos/{REPO}/issues"
    fake.reset_next(route)
    with pytest.raises(RequestError) as before:
        await gh.rest.issues.async_create("acme", "widgets", title="first")
    assert isinstance(before.value.exc, httpx.TransportError)
    assert fake.issues_in(REPO) == []
    fake.reset_next(route, after_processing=True)
    with pytest.raises(RequestError):
        await gh.rest.issues.async_create("acme", "widgets", title="second")
    assert [i.title for i in fake.issues_in(REPO)] == ["second"]


async def test_delay_applies_the_write_before_answering(fake: FakeGitHub) -> None:
    route = f"POST /repos/{REPO}/issues"
    fake.delay_next(route, seconds=5)
    gh = kit(fake, timeout=0.3)
    with pytest.raises(RequestError) as caught:
        await gh.rest.issues.async_create("acme", "widgets", title="slow")
    assert isinstance(caught.value.exc, httpx.TimeoutException)
    assert [i.title for i in fake.issues_in(REPO)] == ["slow"]


async def test_deleted_and_transferred_issues_leave_the_repository(fake: FakeGitHub) -> None:
    gh = kit(fake)
    for n in range(1, 5):
        fake.add_issue(REPO, title=f"issue {n}")
    fake.delete_issue(REPO, 2)
    moved = fake.transfer_issue(REPO, 3, "acme/other")
    listed = (await gh.rest.issues.async_list_for_repo("acme", "widgets", state="all")).parsed_data
    assert sorted(i.number for i in listed) == [1, 4]
    with pytest.raises(RequestFailed) as gone:
        await gh.rest.issues.async_get("acme", "widgets", 2)
    assert gone.value.response.status_code == 410
    assert (await gh.rest.issues.async_get("acme", "other", moved.number)).parsed_data.title == (
        "issue 3"
    )
    async with httpx.AsyncClient(headers={"Authorization": f"token {fake.token}"}) as http:
        raw = await http.get(f"{fake.url}/repos/{REPO}/issues/3", follow_redirects=False)
    assert raw.status_code == 301
    assert raw.headers["Location"].endswith(f"/repos/acme/other/issues/{moved.number}")
    assert fake.add_issue(REPO, title="next").number == 5, "numbers are never reused"
