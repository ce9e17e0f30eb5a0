"""The Message Content intent switched off in the developer portal.

By default the bot works without it; with MESSAGE_CONTENT_REQUIRED it stops with one clear
line, and a crash loop does not register the commands again.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from bot.sandbox.discord import FakeDiscord
from bot.sandbox.fake_github import FakeGitHub
from bot.sandbox.process import BotProcess, BotProcessError
from bot.sandbox.stack import SANDBOX_REPO, sandbox_env
from tests.conftest import create_pg_database, drop_pg_database

pytestmark = pytest.mark.slow

MESSAGE_CONTENT = 1 << 15
NOT_GRANTED = "Message Content intent is not granted"
SWITCH = "Message Content Intent"


async def _bot_refused_message_content(
    stack: AsyncExitStack, backend: str, tmp_path: Path, **extra_env: str
) -> tuple[FakeDiscord, BotProcess]:
    """A bot process (not started) against a fake Discord that refuses Message Content."""
    discord = await stack.enter_async_context(FakeDiscord(message_content_intent=False))
    github = await stack.enter_async_context(FakeGitHub(repos=(SANDBOX_REPO,)))
    database_url = None
    if backend == "postgres":
        database_url = await create_pg_database()
        stack.push_async_callback(drop_pg_database, database_url)
    env = sandbox_env(
        discord=discord,
        github=github,
        data_dir=tmp_path / "data",
        database_url=database_url,
        extra_env=extra_env,
    )
    process = BotProcess(
        env, discord=discord, log_path=tmp_path / "bot.log", workdir=tmp_path / "cwd"
    )
    stack.push_async_callback(process.stop)
    return discord, process


async def test_the_process_says_what_stops_working_and_keeps_running(
    backend: str, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        discord, process = await _bot_refused_message_content(stack, backend, tmp_path)
        await process.start(ready_timeout=300)
        assert process.returncode is None

        log = process.log_text(max_chars=10**6)
        assert "Traceback" not in log, log
        lines = [line for line in log.splitlines() if NOT_GRANTED in line]
        assert len(lines) == 1, log
        assert "only when they mention the bot" in lines[0]
        assert "Privileged Gateway Intents" in lines[0]
        assert len(discord.hub.refused_identifies) == 1
        (identify,) = discord.hub.identifies
        assert not identify["intents"] & MESSAGE_CONTENT


async def test_when_required_the_process_names_the_switch_and_exits_non_zero(
    backend: str, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        discord, process = await _bot_refused_message_content(
            stack, backend, tmp_path, MESSAGE_CONTENT_REQUIRED="true"
        )
        for _ in range(2):
            with pytest.raises(BotProcessError, match="exited with code"):
                await process.start(ready_timeout=300)
            assert process.returncode not in (None, 0)

        log = process.log_text(max_chars=10**6)
        assert "Traceback" not in log, log
        lines = [line for line in log.splitlines() if SWITCH in line]
        assert len(lines) == 2, log
        assert all("MESSAGE_CONTENT_REQUIRED" in line for line in lines)
        assert len(discord.hub.refused_identifies) == 2 and not discord.hub.identifies
        puts = discord.requests_matching("PUT", r"/commands$")
        assert len(puts) == 1, [p.path for p in puts]
