"""The Message Content intent switched off in the developer portal: one clear line, no loop."""

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

SWITCH = "Message Content Intent"


async def test_the_process_names_the_switch_and_exits_non_zero(
    backend: str, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        discord = await stack.enter_async_context(FakeDiscord(message_content_intent=False))
        github = await stack.enter_async_context(FakeGitHub(repos=(SANDBOX_REPO,)))
        database_url = None
        if backend == "postgres":
            database_url = await create_pg_database()
            stack.push_async_callback(drop_pg_database, database_url)
        env = sandbox_env(
            discord=discord, github=github, data_dir=tmp_path / "data", database_url=database_url
        )
        process = BotProcess(
            env, discord=discord, log_path=tmp_path / "bot.log", workdir=tmp_path / "cwd"
        )
        stack.push_async_callback(process.stop)
        for _ in range(2):
            # It exits once the embedding model, loading in a thread since the start, is in.
            with pytest.raises(BotProcessError, match="exited with code"):
                await process.start(ready_timeout=300)
            assert process.returncode not in (None, 0)

        log = process.log_text(max_chars=10**6)
        assert "Traceback" not in log, log
        lines = [line for line in log.splitlines() if SWITCH in line]
        assert len(lines) == 2, log
        assert all("Privileged Gateway Intents" in line for line in lines)
        assert len(discord.hub.refused_identifies) == 2 and not discord.hub.identifies
        puts = discord.requests_matching("PUT", r"/commands$")
        assert len(puts) == 1, [p.path for p in puts]
