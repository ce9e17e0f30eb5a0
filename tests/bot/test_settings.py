"""Settings: defaults, parsing of lists and durations, readable errors naming the variable."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

ALL_VARS = [
    "DISCORD_BOT_TOKEN",
    "FEEDBACK_CHANNEL_IDS",
    "REVIEW_CHANNEL_ID",
    "MAINTAINER_ROLE_IDS",
    "SYNC_COMMENTS",
    "GITHUB_TOKEN",
    "GITHUB_OWNER",
    "GITHUB_REPO",
    "ALLOWED_REPOS",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL_NAME",
    "OPENAI_FALLBACK_MODELS",
    "DATABASE_URL",
    "DATA_DIR",
    "CHROMA_URL",
    "APPROVAL_REMINDER_AFTER",
    "APPROVAL_EXPIRES_AFTER",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "DISCORD_API_BASE",
    "DISCORD_GATEWAY_URL",
    "GITHUB_API_URL",
    "SHARD_COUNT",
    "SHARD_IDS",
    "ALLOWED_GUILD_IDS",
    "LEAVE_UNKNOWN_GUILDS",
    "COMMANDS_GLOBAL",
    "HEALTH_HOST",
    "HEALTH_TOKEN",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_work_without_configuration(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.discord.token is None
    assert settings.llm.enabled is False
    assert settings.db_url.startswith("sqlite+aiosqlite:///")
    assert settings.db_url.endswith("data/iterateswarm.sqlite3")
    assert settings.triage.expires_after == timedelta(days=7)
    assert settings.github.sync_comments == "off"


def test_lists_durations_and_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_CHANNEL_IDS", "111, 222,333")
    monkeypatch.setenv("MAINTAINER_ROLE_IDS", "9")
    monkeypatch.setenv("APPROVAL_REMINDER_AFTER", "90m")
    monkeypatch.setenv("GITHUB_OWNER", "Octo")
    monkeypatch.setenv("GITHUB_REPO", "Cat")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_FALLBACK_MODELS", "b, c")
    monkeypatch.setenv("TRIAGE_CONCURRENCY", "16")
    settings = load_settings()
    assert settings.triage.concurrency == 16
    assert settings.discord.feedback_channel_ids == [111, 222, 333]
    assert settings.discord.maintainer_role_ids == [9]
    assert settings.triage.reminder_after == timedelta(minutes=90)
    assert settings.github.allowlist == ["octo/cat"]
    assert settings.llm.models == ["gpt-4o-mini", "b", "c"]


def test_postgres_url_is_normalised_to_asyncpg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5432/db")
    settings = load_settings()
    assert settings.db_url == "postgresql+asyncpg://u@h:5432/db"
    assert settings.is_postgres


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("FEEDBACK_CHANNEL_IDS", "12,abc", "FEEDBACK_CHANNEL_IDS: expected comma-separated"),
        ("APPROVAL_EXPIRES_AFTER", "soon", "APPROVAL_EXPIRES_AFTER: expected a duration"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: expected a postgresql:// or sqlite:/// URL"),
        ("ALLOWED_REPOS", "justaname", "ALLOWED_REPOS: expected owner/name"),
        ("DISCORD_BOT_TOKEN", "changeme", "DISCORD_BOT_TOKEN: is a placeholder"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL:"),
        ("TRIAGE_CONCURRENCY", "0", "TRIAGE_CONCURRENCY:"),
        ("SYNC_COMMENTS", "sometimes", "SYNC_COMMENTS:"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert expected in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_secrets_do_not_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "MTIz.secret-token-value")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_abcdefghijklmnopqrstuvwxyz0123")
    settings = load_settings()
    assert "secret-token-value" not in repr(settings)
    assert "ghp_abc" not in repr(settings)


def test_env_file_empty_values_mean_unset(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOG_FORMAT=\nHEALTH_PORT=\nREVIEW_CHANNEL_ID=42\n")
    settings = load_settings()
    assert settings.log_format is None and settings.health_port is None
    assert settings.discord.review_channel_id == 42


def test_home_guilds_commands_and_health_defaults() -> None:
    settings = load_settings()
    assert settings.discord.allowed_guild_ids == []
    assert settings.discord.leave_unknown_guilds is True
    assert settings.discord.commands_global is False
    assert settings.health_host == "127.0.0.1"
    assert settings.health_token is None


def test_home_guilds_and_health_token_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_GUILD_IDS", "111, 222")
    monkeypatch.setenv("LEAVE_UNKNOWN_GUILDS", "false")
    monkeypatch.setenv("HEALTH_HOST", "0.0.0.0")
    monkeypatch.setenv("HEALTH_TOKEN", "scrape-me-please")
    settings = load_settings()
    assert settings.discord.allowed_guild_ids == [111, 222]
    assert settings.discord.leave_unknown_guilds is False
    assert settings.health_host == "0.0.0.0"
    assert settings.health_token is not None
    assert settings.health_token.get_secret_value() == "scrape-me-please"
    assert "scrape-me-please" not in repr(settings)


def test_global_commands_need_an_empty_guild_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMANDS_GLOBAL", "true")
    assert load_settings().discord.commands_global is True
    monkeypatch.setenv("ALLOWED_GUILD_IDS", "111")
    with pytest.raises(SettingsError, match="COMMANDS_GLOBAL"):
        load_settings()


def test_a_placeholder_health_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEALTH_TOKEN", "changeme")
    with pytest.raises(SettingsError, match="HEALTH_TOKEN"):
        load_settings()
