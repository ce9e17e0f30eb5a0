"""Fixtures of the triage graph's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.sandbox.fake_github import FakeGitHub
from tests.agents.triage._harness import REPO


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    """A fake GitHub holding the repository the harness files into."""
    async with FakeGitHub(repos=[REPO]) as fake:
        yield fake
