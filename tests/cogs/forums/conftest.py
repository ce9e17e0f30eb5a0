"""Fixtures for the forum tests: the sandbox bot with a forum among its feedback channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.github import RetryPolicy
from bot.sandbox.discord import FakeUser
from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder
from storage.models import FeedbackItem

WAIT = 30.0
#: One triage start per user per window: a user's second post waits, untriaged.
WINDOW_SECONDS = 4
FORUM_TAGS = ("bug", "feature", "question", "tracked", "duplicate", "declined", "resolved")
FAST_RETRIES = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.1, max_total_wait=2.0)


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder, db_url: str) -> AsyncIterator[Sandbox]:
    """A running bot whose feedback channels are the text channel and a `bug-reports` forum."""
    env = {"RATE_LIMIT_ITEMS": "1", "RATE_LIMIT_WINDOW": f"{WINDOW_SECONDS}s"}
    async with sandbox_stack(
        data_dir=tmp_path / "data",
        database_url=db_url,
        model=embedder.model,
        extra_env=env,
        start_bot=False,
        github_retry=FAST_RETRIES,
    ) as sandbox:
        forum = sandbox.discord.add_forum_channel("bug-reports", tags=FORUM_TAGS)
        sandbox.configure(
            FEEDBACK_CHANNEL_IDS=f"{sandbox.discord.feedback_channel_id},{forum['id']}"
        )
        await sandbox.start()
        yield sandbox


def forum_id(sb: Sandbox) -> int:
    """The sandbox's forum channel."""
    return next(
        int(c["id"]) for c in sb.discord.state.channels.values() if c["name"] == "bug-reports"
    )


async def open_post(
    sb: Sandbox, author: FakeUser, title: str, text: str, *, tags: tuple[str, ...] = ()
) -> tuple[int, FeedbackItem]:
    """Open a forum post; return its id and the item made of it."""
    post = await sb.discord.create_forum_post(forum_id(sb), author, title, text, tags=list(tags))
    post_id = int(post["id"])
    return post_id, await sb.wait_for_item_from_message(post_id, within=WAIT)
