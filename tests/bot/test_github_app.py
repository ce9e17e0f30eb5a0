"""GitHubClient as a GitHub App: installation tokens, their renewal, recovery without GET /user."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.github import AppCredentials, GitHubClient, RetryPolicy, item_marker
from bot.sandbox._github_auth import FakeApp, generate_app_key
from bot.sandbox.fake_github import FakeGitHub
from bot.settings import GitHubSettings

REPO = "acme/widgets"
ISSUES = f"POST /repos/{REPO}/issues"
PRIVATE, PUBLIC = generate_app_key()


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(repos=[REPO]) as server:
        yield server


async def _no_wait(_seconds: float) -> None:
    return None


def app_client(fake: FakeGitHub, app: FakeApp, key: str = PRIVATE) -> GitHubClient:
    credentials = AppCredentials(app.app_id, SecretStr(key), app.installation_id)
    return GitHubClient(
        app=credentials,
        base_url=fake.url,
        allowlist=[REPO],
        retry=RetryPolicy(attempts=3, base_delay=0.01, jitter=0),
        sleep=_no_wait,
    )


async def test_app_files_as_its_bot_and_recovers_a_late_502_without_get_user(
    fake: FakeGitHub,
) -> None:
    app = fake.add_app(public_key_pem=PUBLIC, slug="triage-bot")
    client = app_client(fake, app)
    fake.fail_next(ISSUES, status=502, times=3, after_processing=True)
    ref = await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=3)
    (issue,) = fake.issues_in(REPO)
    assert (ref.number, issue.author) == (issue.number, "triage-bot[bot]")
    assert fake.requests_to("GET", "/user") == []
    assert await client.identity() == "triage-bot[bot]"
    assert await client.app_slug() == "triage-bot"
    assert len(app.tokens_issued) == 1


async def test_app_recovery_ignores_the_marker_in_a_strangers_issue(fake: FakeGitHub) -> None:
    app = fake.add_app(public_key_pem=PUBLIC)
    client = app_client(fake, app)
    fake.add_issue(REPO, title="bait", body=f"x\n\n{item_marker(4)}\n", author="mallory")
    assert await client.find_filed_issue(repo=REPO, item_id=4) is None
    listing = fake.requests_to("GET", f"/repos/{REPO}/issues")[-1]
    assert "creator" not in listing.query, "a bot's login is matched on each issue"
    ours = fake.add_issue(REPO, title="ours", body=item_marker(4), author=app.bot_login)
    found = await client.find_filed_issue(repo=REPO, item_id=4)
    assert found is not None and found.number == ours.number


async def test_installation_tokens_are_renewed_before_they_expire(fake: FakeGitHub) -> None:
    # githubkit keeps a token until a minute before its `expires_at`: 62 s leave 1 to 2 s.
    app = fake.add_app(public_key_pem=PUBLIC, token_lifetime=62)
    client = app_client(fake, app)
    await client.list_labels(repo=REPO)
    await client.list_labels(repo=REPO)
    assert len(app.tokens_issued) == 1, "a live token is reused"
    await asyncio.sleep(2.2)
    await client.list_labels(repo=REPO)
    assert len(app.tokens_issued) == 2
    assert all(r.authorized for r in fake.requests)
    assert client.failed_calls == 0


async def test_a_refused_installation_token_is_replaced_once(fake: FakeGitHub) -> None:
    app = fake.add_app(public_key_pem=PUBLIC)
    client = app_client(fake, app)
    await client.list_labels(repo=REPO)
    fake.auth.expire_installation_tokens()  # revoked, or our clock ran late
    assert "bug" in await client.list_labels(repo=REPO)
    assert len(app.tokens_issued) == 2
    assert client.failed_calls == 0


async def test_an_installation_token_in_github_token_recovers_without_get_user(
    fake: FakeGitHub,
) -> None:
    app = fake.add_app(public_key_pem=PUBLIC)
    minted = fake.auth.mint_installation_token(app.installation_id)
    assert minted is not None
    client = GitHubClient(
        token=minted[0],
        base_url=fake.url,
        allowlist=[REPO],
        retry=RetryPolicy(attempts=3, base_delay=0.01, jitter=0),
        sleep=_no_wait,
    )
    fake.fail_next(ISSUES, status=502, after_processing=True)
    ref = await client.create_issue(repo=REPO, title="t", body="b", labels=[], item_id=8)
    assert [i.number for i in fake.issues_in(REPO)] == [ref.number]
    assert fake.requests_to("GET", "/user") == []


def test_app_settings_take_the_key_as_text_escaped_text_or_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(PRIVATE)
    escaped = PRIVATE.strip().replace("\n", "\\n")
    for value in (PRIVATE, escaped, str(key_file)):
        settings = GitHubSettings(
            GITHUB_APP_ID="12",
            GITHUB_APP_PRIVATE_KEY=value,
            GITHUB_APP_INSTALLATION_ID="34",
            GITHUB_OWNER="acme",
            GITHUB_REPO="widgets",
        )
        assert settings.uses_app and settings.has_credentials
        assert settings.app_private_key is not None
        assert settings.app_private_key.get_secret_value() == PRIVATE.strip() + "\n"
        client = GitHubClient.from_settings(settings)
        assert client.auth_kind == "app" and "PRIVATE" not in repr(client)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"GITHUB_APP_ID": "12"}, "missing: GITHUB_APP_PRIVATE_KEY, GITHUB_APP_INSTALLATION_ID"),
        (
            {
                "GITHUB_APP_ID": "12",
                "GITHUB_APP_PRIVATE_KEY": PRIVATE,
                "GITHUB_APP_INSTALLATION_ID": "3",
                "GITHUB_TOKEN": "ghp_x",
            },
            "not both",
        ),
        (
            {"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": "/no/such/key.pem"},
            "neither a PEM private key nor a readable file",
        ),
    ],
)
def test_app_settings_refuse_half_or_double_credentials(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        GitHubSettings(**values)  # type: ignore[arg-type]
    assert "BEGIN" not in str(caught.value)
