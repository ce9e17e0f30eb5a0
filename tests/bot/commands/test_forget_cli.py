"""`iterateswarm forget`: the same removal as /forget, from a shell, Discord told over REST."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot.cli import UserError
from bot.commands.forget import handler
from bot.sandbox.stack import sandbox_stack
from storage.db import Database
from storage.embeddings import Embedder
from storage.vectors import VectorStore
from tests.e2e.harness import embed_text
from tests.traces import checkpoint_file_traces, database_traces, index_traces

MARK = "wombatfizz"
REPORT = (
    f"The {MARK} upload stalls at 99 percent for large videos. Steps: upload a 2 GB file. "
    "I expected it to finish, it hangs forever. Version 5.2 on Windows 11."
)


def _args(user: int, *, yes: bool = True) -> argparse.Namespace:
    return argparse.Namespace(user=user, guild=None, name=[], yes=yes)


async def test_forget_from_the_shell_removes_everything_and_empties_the_review(
    tmp_path: Path, embedder: Embedder, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path / "data", database_url=db_url, model=embedder.model
    ) as sb:
        rin = sb.discord.add_user("rin-wombat")
        posted = await sb.discord.post_message(sb.discord.feedback_channel_id, rin, REPORT)
        item = await sb.wait_for_item_from_message(int(posted["id"]), within=30)
        review_id = await sb.wait_for_review_message(item.id or 0, within=30)
        await sb.stop()

        assert await handler(_args(rin.id), sb.settings) == 0
        assert "1 feedback item(s)" in capsys.readouterr().out
        review = sb.discord.message(review_id)
        assert review is not None and MARK not in embed_text(review)
        assert "removed" in embed_text(review) and not review.custom_ids()
        notices = sb.discord.messages_in(sb.discord.review_channel_id)
        assert any("At a member's request" in m.content for m in notices)

    needles = [MARK, rin.name, str(rin.id)]
    db = Database(db_url)
    try:
        assert await database_traces(db, needles) == []
    finally:
        await db.close()
    assert checkpoint_file_traces(tmp_path / "data", needles) == []
    store = VectorStore.open(data_dir=tmp_path / "data", embedder=embedder)
    try:
        assert index_traces(store, needles) == []
    finally:
        store.close()


async def test_without_a_terminal_it_asks_for_yes(tmp_path: Path) -> None:
    from bot.settings import Settings

    settings = Settings(DATA_DIR=tmp_path)
    with pytest.raises(UserError, match="--yes"):
        await handler(_args(1, yes=False), settings)
