"""The sandbox harness: settings point at the fakes, discord.py globals are restored."""

from __future__ import annotations

from pathlib import Path

from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.sandbox.stack import sandbox_stack, settings_from_env
from storage.embeddings import Embedder


async def test_settings_point_at_the_fakes(tmp_path: Path) -> None:
    async with sandbox_stack(data_dir=tmp_path, start_bot=False) as sb:
        settings = sb.settings
        assert settings.discord.api_base == sb.discord.api_base
        assert settings.discord.gateway_url == sb.discord.gateway_url
        assert settings.discord.token is not None
        assert settings.discord.token.get_secret_value() == sb.discord.token
        assert settings.discord.review_channel_id == sb.discord.review_channel_id
        assert settings.discord.feedback_channel_ids == [sb.discord.feedback_channel_id]
        assert settings.discord.maintainer_role_ids == [sb.discord.maintainer_role_id]
        assert settings.github.api_url == sb.github.url.rstrip("/")
        assert settings.github.full_name == sb.repo
        assert settings.llm.enabled is False
        assert settings.data_dir == tmp_path
        assert settings.db_url.startswith("sqlite+aiosqlite:///")
        again = settings_from_env({**sb.env, "REVIEW_CHANNEL_ID": "42"})
        assert again.discord.review_channel_id == 42


async def test_discord_globals_are_restored(tmp_path: Path, embedder: Embedder) -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with sandbox_stack(data_dir=tmp_path, model=embedder.model) as sb:
        assert sb.discord.api_base == Route.BASE
        assert sb.bot.get_guild(sb.discord.guild_id) is not None
    assert base == Route.BASE
    assert gateway == DiscordWebSocket.DEFAULT_GATEWAY
