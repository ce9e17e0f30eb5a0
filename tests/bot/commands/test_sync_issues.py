"""`iterateswarm sync-issues`: clear refusals, and a sync into SQLite against the fake."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from bot.cli import UserError
from bot.commands.sync_issues import handler, sync_issues
from bot.github import GitHubClient, RetryPolicy
from bot.sandbox.fake_github import FakeGitHub
from bot.settings import GitHubSettings, Settings
from storage.db import Database
from storage.sync_state import SyncStateRepository


def settings_with(tmp_path: Path, **github: Any) -> Settings:
    values = {"GITHUB_TOKEN": "", "GITHUB_OWNER": "", "GITHUB_REPO": "", **github}
    return Settings(
        DATA_DIR=tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'sync.sqlite3'}",
        github=GitHubSettings(**values),
    )


@pytest.mark.parametrize(
    ("github", "repo", "message"),
    [
        (
            {"GITHUB_OWNER": "acme", "GITHUB_REPO": "widgets"},
            None,
            "neither GITHUB_TOKEN nor the GITHUB_APP_",
        ),
        ({"GITHUB_TOKEN": "t"}, None, "set GITHUB_OWNER and GITHUB_REPO"),
        ({"GITHUB_TOKEN": "t"}, "not-a-repo", "owner/name"),
    ],
)
async def test_missing_configuration_is_one_clear_line(
    tmp_path: Path, github: dict[str, str], repo: str | None, message: str
) -> None:
    args = argparse.Namespace(full=False, repo=repo)
    with pytest.raises(UserError, match=message) as caught:
        await handler(args, settings_with(tmp_path, **github))
    assert "\n" not in str(caught.value)


async def test_sync_into_a_fresh_database(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, GITHUB_TOKEN="t", GITHUB_OWNER="acme", GITHUB_REPO="widgets")
    indexed: list[int] = []

    async def indexer(repo: str, issues: list[dict[str, Any]]) -> None:
        indexed.extend(issue["number"] for issue in issues)

    async with FakeGitHub(token="t") as fake:
        for i in range(3):
            fake.add_issue("acme/widgets", title=f"issue {i}")
        github = GitHubClient(token="t", base_url=fake.url, retry=RetryPolicy(attempts=1))
        stats = await sync_issues(
            settings, repo="acme/widgets", full=False, indexer=indexer, github=github
        )
    assert stats.full and stats.fetched == 3 and sorted(indexed) == [1, 2, 3]
    db = Database(settings.db_url)
    try:
        saved = await SyncStateRepository(db).get(repo="acme/widgets")
    finally:
        await db.close()
    assert saved is not None and saved.since == stats.high_water_mark
