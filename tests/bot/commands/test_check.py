"""`iterateswarm check` with a full configuration, against the fake Discord and GitHub."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from bot.sandbox._github_auth import generate_app_key
from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_github import FakeGitHub
from bot.sandbox.fake_openai import FakeOpenAI, Quirks
from bot.sandbox.process import child_environment
from bot.sandbox.stack import GitHubAuthMode, github_credentials, sandbox_env


async def _check(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """`python -m bot check` of this checkout (on PYTHONPATH, whatever the working directory)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        "--skip-model",
        env=child_environment(env),
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def test_configured_bot_can_start_and_secrets_stay_hidden(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeGitHub(repos=["acme/widgets"]) as github:
        env = sandbox_env(discord=discord, github=github, data_dir=tmp_path / "data")
        code, out = await _check(env, tmp_path)
    assert code == 0, out
    assert "token accepted" in out
    assert "GitHub personal access token of iterateswarm-bot" in " ".join(out.split())
    assert "acme/widgets is in the allowlist and readable" in out
    assert "The bot can start." in out
    assert discord.token not in out and github.token not in out


async def test_rejected_tokens_and_a_repo_outside_the_allowlist_fail(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeGitHub(repos=["acme/widgets"]) as github:
        env = sandbox_env(discord=discord, github=github, data_dir=tmp_path / "data")
        env.update(DISCORD_BOT_TOKEN="MTIz.bad.token", ALLOWED_REPOS="acme/other")
        code, out = await _check(env, tmp_path)
    assert code == 1
    assert "token rejected" in out
    assert "acme/widgets is not in ALLOWED_REPOS" in out
    assert "MTIz.bad.token" not in out


async def test_message_content_intent_switched_off_warns_what_stops_and_the_switch(
    tmp_path: Path,
) -> None:
    async with (
        FakeDiscord(message_content_intent=False) as discord,
        FakeGitHub(repos=["acme/widgets"]) as github,
    ):
        env = sandbox_env(discord=discord, github=github, data_dir=tmp_path / "data")
        code, out = await _check(env, tmp_path)
    assert code == 0, out
    line = next(line for line in out.splitlines() if "Message Content" in line)
    assert line.lstrip().startswith("!") and "Privileged Gateway Intents" in line
    assert "only when they mention the bot" in line


async def test_the_guilds_the_bot_is_in_are_listed_and_unknown_ones_flagged(
    tmp_path: Path,
) -> None:
    async with FakeDiscord() as discord, FakeGitHub(repos=["acme/widgets"]) as github:
        stranger = discord.add_outsider("sam-stranger")
        other = discord.add_guild(name="Sam's server", owner=stranger)
        env = sandbox_env(discord=discord, github=github, data_dir=tmp_path / "data")
        code, out = await _check(env, tmp_path)
    assert code == 0, out
    lines = out.splitlines()
    home = next(line for line in lines if "'IterateSwarm Community'" in line)
    unknown = next(line for line in lines if str(other.id) in line)
    assert home.lstrip().startswith("✔") and "home" in home
    assert unknown.lstrip().startswith("!") and "not a home server" in unknown
    assert "Sam's server" in unknown
    assert "Message Content" in out


def _env(
    discord: FakeDiscord, github: FakeGitHub, tmp_path: Path, auth: GitHubAuthMode
) -> dict[str, str]:
    """A full configuration whose GitHub credentials are of the kind `auth` names."""
    credentials = github_credentials(github, auth)
    return sandbox_env(
        discord=discord, github=github, data_dir=tmp_path / "data", extra_env=credentials
    )


async def test_github_app_credentials_are_checked_and_named(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeGitHub(repos=["acme/widgets"]) as github:
        code, out = await _check(_env(discord, github, tmp_path, "app"), tmp_path)
        requests = [(r.method, r.path) for r in github.requests]
    assert code == 0, out
    flat = " ".join(out.split())
    assert "GitHub GitHub App iterateswarm-app (id 424242), installation 7070" in flat
    assert "files as iterateswarm-app[bot]" in flat
    assert "acme/widgets is in the allowlist and readable" in out
    assert ("GET", "/user") not in requests
    assert "PRIVATE KEY" not in out


async def test_a_wrong_app_key_fails_and_an_installation_token_is_flagged(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeGitHub(repos=["acme/widgets"]) as github:
        env = _env(discord, github, tmp_path, "app")
        env["GITHUB_APP_PRIVATE_KEY"] = generate_app_key()[0]
        code, out = await _check(env, tmp_path)
        assert code == 1, out
        assert "GitHub App 424242: key rejected or API unreachable" in " ".join(out.split())

        code, out = await _check(_env(discord, github, tmp_path, "installation-token"), tmp_path)
    flat = " ".join(out.split())
    assert "GITHUB_TOKEN is an installation token of iterateswarm-app[bot]" in flat
    assert "expires within an hour" in flat


async def test_llm_check_reports_the_method_that_works_and_its_latency(tmp_path: Path) -> None:
    async with (
        FakeDiscord() as discord,
        FakeGitHub(repos=["acme/widgets"]) as github,
        FakeOpenAI(models=["gemma3-270m"]) as openai,
    ):
        openai.quirks = Quirks(reject_tools=True, reject_json_schema=True)
        env = sandbox_env(discord=discord, github=github, data_dir=tmp_path / "data")
        env.update(OPENAI_API_KEY="sk-local-key", OPENAI_BASE_URL=openai.url)
        env.update(OPENAI_MODEL_NAME="gemma3-270m", LLM_REQUESTS_PER_MINUTE="600")
        code, out = await _check(env, tmp_path)
        url = openai.url
    assert code == 0, out
    line = next(line for line in out.splitlines() if " LLM " in line)
    assert re.search(
        rf"✔ LLM +gemma3-270m at {re.escape(url)}: json_mode works, "
        r"\d+\.\ds for one classification \(bug\)",
        line,
    ), line
    assert "sk-local-key" not in out


async def test_llm_check_names_each_cause_when_the_server_fails(tmp_path: Path) -> None:
    async with FakeDiscord() as discord, FakeGitHub(repos=["acme/widgets"]) as github:
        env = sandbox_env(discord=discord, github=github, data_dir=tmp_path / "data")
        env.update(OPENAI_API_KEY="sk-local-key", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
        env.update(OPENAI_MODEL_NAME="m1", OPENAI_FALLBACK_MODELS="m2")
        env.update(LLM_REQUESTS_PER_MINUTE="600")
        code, out = await _check(env, tmp_path)
    assert code == 0, "the offline engine answers meanwhile: the bot can start"
    lines = [line.strip() for line in out.splitlines() if " LLM " in line]
    assert lines == [
        "! LLM                    m1 at http://127.0.0.1:9/v1: connection failed",
        "! LLM                    the offline engine answers until it works",
    ]
    assert "Traceback" not in out
