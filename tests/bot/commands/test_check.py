"""`iterateswarm check` with a full configuration, against the fake Discord and GitHub."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

from bot.sandbox.fake_discord import FakeDiscord
from bot.sandbox.fake_github import FakeGitHub
from bot.sandbox.fake_openai import FakeOpenAI, Quirks
from bot.sandbox.stack import sandbox_env

REPO_ROOT = Path(__file__).resolve().parents[3]


async def _check(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GITHUB_"))}
    base["PYTHONPATH"] = str(REPO_ROOT)  # this checkout, not whichever one the venv points at
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        "--skip-model",
        env={**base, **env},
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
    assert "token accepted" in out and "token valid" in out
    assert "acme/widgets is in the allowlist" in out
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
