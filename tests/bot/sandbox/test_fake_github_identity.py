"""The fake GitHub's credentials: personal tokens, App JWTs, installation tokens, late faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestError, RequestFailed

from bot.sandbox._github_auth import generate_app_key
from bot.sandbox.fake_github import FakeGitHub

REPO = "acme/widgets"
ISSUES = f"POST /repos/{REPO}/issues"
KEYS = generate_app_key()


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(repos=[REPO]) as server:
        yield server


def kit(fake: FakeGitHub, auth: object, timeout: float = 10) -> GitHub:  # type: ignore[type-arg]
    return GitHub(
        auth,  # type: ignore[arg-type]
        base_url=fake.url,
        auto_retry=False,
        http_cache=False,
        trust_env=False,
        timeout=timeout,
        cache_strategy=MemCacheStrategy(),
    )


async def test_a_502_after_processing_still_does_the_work(fake: FakeGitHub) -> None:
    gh = kit(fake, TokenAuthStrategy(fake.token))
    fake.fail_next(ISSUES, status=502, after_processing=True)
    with pytest.raises(RequestFailed) as caught:
        await gh.rest.issues.async_create("acme", "widgets", title="made anyway")
    assert caught.value.response.status_code == 502
    assert [i.title for i in fake.issues_in(REPO)] == ["made anyway"]


async def test_a_delay_before_processing_leaves_nothing_when_the_caller_gives_up(
    fake: FakeGitHub,
) -> None:
    fake.delay_next(ISSUES, seconds=2, after_processing=False)
    gh = kit(fake, TokenAuthStrategy(fake.token), timeout=0.3)
    with pytest.raises(RequestError):
        await gh.rest.issues.async_create("acme", "widgets", title="never made")
    await asyncio.sleep(2.2)
    assert fake.issues_in(REPO) == []


async def test_app_jwt_reads_the_app_and_mints_installation_tokens(fake: FakeGitHub) -> None:
    app = fake.add_app(public_key_pem=KEYS[1], slug="triage-bot", token_lifetime=120)
    as_app = kit(fake, AppAuthStrategy(app.app_id, KEYS[0]))
    described = (await as_app.rest.apps.async_get_authenticated()).parsed_data
    assert described is not None and described.slug == "triage-bot"
    minted = await as_app.rest.apps.async_create_installation_access_token(app.installation_id)
    assert minted.status_code == 201
    expires = datetime.fromisoformat(minted.parsed_data.expires_at.replace("Z", "+00:00"))
    assert timedelta(seconds=100) < expires - datetime.now(UTC) <= timedelta(seconds=121)
    assert app.tokens_issued == [minted.parsed_data.token]
    with pytest.raises(RequestFailed) as unknown:
        await as_app.rest.apps.async_create_installation_access_token(app.installation_id + 1)
    assert unknown.value.response.status_code == 404


async def test_installation_token_acts_as_the_bot_and_cannot_read_the_user(
    fake: FakeGitHub,
) -> None:
    app = fake.add_app(public_key_pem=KEYS[1], slug="triage-bot")
    gh = kit(fake, AppInstallationAuthStrategy(app.app_id, KEYS[0], app.installation_id))
    created = (
        await gh.rest.issues.async_create("acme", "widgets", title="from the app")
    ).parsed_data
    assert created.user is not None and created.user.login == "triage-bot[bot]"
    assert fake.issues_in(REPO)[0].author == "triage-bot[bot]"
    with pytest.raises(RequestFailed) as refused:
        await gh.rest.users.async_get_authenticated()
    assert refused.value.response.status_code == 403
    assert "not accessible by integration" in refused.value.response.text
    viewer = await gh.async_graphql("query { viewer { login } }")
    assert viewer == {"viewer": {"login": "triage-bot[bot]"}}
    assert {r.identity for r in fake.requests if r.path.startswith("/repos")} == {"triage-bot[bot]"}


async def test_expired_installation_tokens_and_foreign_jwts_get_401(fake: FakeGitHub) -> None:
    app = fake.add_app(public_key_pem=KEYS[1])
    gh = kit(fake, AppInstallationAuthStrategy(app.app_id, KEYS[0], app.installation_id))
    await gh.rest.issues.async_list_for_repo("acme", "widgets")
    fake.auth.expire_installation_tokens()
    with pytest.raises(RequestFailed) as expired:
        await gh.rest.issues.async_list_for_repo("acme", "widgets")
    assert expired.value.response.status_code == 401

    other_private, _ = generate_app_key()
    stranger = kit(fake, AppAuthStrategy(app.app_id, other_private))
    with pytest.raises(RequestFailed) as forged:
        await stranger.rest.apps.async_get_authenticated()
    assert forged.value.response.status_code == 401
    now = datetime.now(UTC)
    too_long = jwt.encode(
        {"iss": str(app.app_id), "iat": now, "exp": now + timedelta(hours=1)},
        KEYS[0],
        algorithm="RS256",
    )
    async with httpx.AsyncClient(base_url=fake.url) as raw:
        answer = await raw.get("/app", headers={"Authorization": f"Bearer {too_long}"})
    assert answer.status_code == 401


async def test_personal_token_reads_the_user_and_graphql_viewer(fake: FakeGitHub) -> None:
    gh = kit(fake, TokenAuthStrategy(fake.token))
    assert (await gh.rest.users.async_get_authenticated()).parsed_data.login == fake.login
    assert await gh.async_graphql("query { viewer { login } }") == {"viewer": {"login": fake.login}}
    with pytest.raises(RequestFailed) as no_jwt:
        await gh.rest.apps.async_get_authenticated()
    assert no_jwt.value.response.status_code == 401
