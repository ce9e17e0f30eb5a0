"""Slash commands: registered per home server, only when they changed, never fatal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.sandbox.discord import FakeDiscord
from bot.sandbox.stack import sandbox_stack
from storage.embeddings import Embedder

MISSING_ACCESS = {"message": "Missing Access", "code": 50001}


def _puts(fake: FakeDiscord, scope: str) -> int:
    app = fake.application_id
    path = (
        rf"^/applications/{app}/commands$"
        if scope == "global"
        else (rf"^/applications/{app}/guilds/{scope}/commands$")
    )
    return len(fake.requests_matching("PUT", path))


async def test_three_starts_with_unchanged_commands_sync_once(
    embedder: Embedder, tmp_path: Path, db_url: str
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path / "data", database_url=db_url, model=embedder.model
    ) as sb:
        await sb.restart()
        await sb.restart()
        fake = sb.discord
        home = str(fake.guild_id)
        assert (_puts(fake, home), _puts(fake, "global")) == (1, 0)
        names = {c["name"] for c in fake.state.commands[fake.guild_id]}
        assert {"feedback", "status", "config", "digest", "Send to triage"} <= names
        assert not fake.state.commands.get(None)
        status = await fake.slash_command("status", None, sb.maintainer)
        assert (await status.wait_response()).type == 5


async def test_global_commands_of_an_earlier_release_are_removed_once(
    embedder: Embedder, tmp_path: Path, db_url: str
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path / "data", database_url=db_url, model=embedder.model, start_bot=False
    ) as sb:
        fake = sb.discord
        fake.state.put_commands(None, [{"name": "feedback", "description": "old", "type": 1}])
        await sb.start()
        await sb.restart()
        assert not fake.state.commands.get(None)
        assert (_puts(fake, str(fake.guild_id)), _puts(fake, "global")) == (1, 1)


async def test_a_failed_sync_does_not_stop_the_bot_and_is_retried(
    embedder: Embedder, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.guilds import _commands

    monkeypatch.setattr(_commands, "RETRY_DELAYS", (0.2, 0.2))
    async with sandbox_stack(
        data_dir=tmp_path / "data", database_url=db_url, model=embedder.model, start_bot=False
    ) as sb:
        fake = sb.discord
        failing = fake.inject_failure("PUT", r"/commands$", status=403, body=MISSING_ACCESS)
        await sb.start()
        assert failing.hits == 1
        await fake.state.signal.wait_for(
            lambda: fake.state.commands.get(fake.guild_id), 10, "the sync to be retried"
        )
        puts = fake.requests_matching("PUT", rf"/guilds/{fake.guild_id}/commands$")
        assert [put.status for put in puts] == [403, 200]
        await sb.restart()
        await asyncio.sleep(0.5)
        assert _puts(fake, str(fake.guild_id)) == 2


async def test_global_registration_only_when_asked_for(
    embedder: Embedder, tmp_path: Path, db_url: str
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path / "data",
        database_url=db_url,
        model=embedder.model,
        extra_env={"COMMANDS_GLOBAL": "true"},
    ) as sb:
        await sb.restart()
        fake = sb.discord
        assert (_puts(fake, "global"), _puts(fake, str(fake.guild_id))) == (1, 0)
        assert {c["name"] for c in fake.state.commands[None]} >= {"feedback", "status"}
        assert not fake.state.commands.get(fake.guild_id)
