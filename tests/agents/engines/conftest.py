"""Fixtures of the engine tests: a loopback fake OpenAI server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sandbox.fake_openai import FakeOpenAI


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI server whose hanging requests give up after 5 s."""
    async with FakeOpenAI(hang_seconds=5) as server:
        yield server
