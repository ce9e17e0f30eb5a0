"""Without the Message Content intent (refused with 4014) the bot keeps serving feedback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.sandbox.discord import FakeFile
from bot.sandbox.stack import Sandbox
from storage.embeddings import Embedder
from tests.cogs.approvals.backends import BACKENDS, sandbox_on

WAIT = 30.0
MESSAGE_CONTENT = 1 << 15
REPORT = "The export button crashes the app every time I press it on the settings page."


async def _no_reply_or_item(sb: Sandbox, message_id: int) -> None:
    await asyncio.sleep(1.0)
    assert await sb.services.items.get_by_source(f"message:{message_id}") is None
    replies = [
        m
        for m in sb.discord.messages_in(sb.discord.feedback_channel_id)
        if m.author_id == sb.discord.bot_user.id
    ]
    assert replies == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_slash_command_mentions_and_plain_messages_without_the_intent(
    backend: str, tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    async with sandbox_on(backend, tmp_path, embedder.model, start_bot=False) as sb:
        sb.discord.state.message_content_intent = False
        await sb.start()
        assert len(sb.discord.hub.refused_identifies) == 1
        assert all(not i["intents"] & MESSAGE_CONTENT for i in sb.discord.hub.identifies)
        (line,) = [r.getMessage() for r in caplog.records if "not granted" in r.getMessage()]
        assert "Message Content" in line and "only when they mention the bot" in line
        assert "Privileged Gateway Intents" in line

        plain = await sb.discord.post_message(sb.discord.feedback_channel_id, sb.reporter, REPORT)
        await _no_reply_or_item(sb, int(plain["id"]))

        mention = sb.discord.bot_user.mention
        posted = await sb.discord.post_message(
            sb.discord.feedback_channel_id,
            sb.reporter,
            f"{mention} {REPORT}",
            files=[FakeFile("crash.log", b"boom\n")],
        )
        item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
        assert item.raw_text == REPORT
        assert [a["text"] for a in item.attachments or []] == ["boom\n"]
        await sb.discord.wait_for_reaction(int(posted["id"]), "👀")
        await sb.wait_for_review_message(item.id or 0, within=WAIT)
        await sb.discord.edit_user_message(int(posted["id"]), f"{mention} {REPORT}")
        await asyncio.sleep(0.5)  # an update with the same words (a link preview) is no edit
        edited = f"{REPORT} Only on Firefox."
        await sb.discord.edit_user_message(int(posted["id"]), f"{mention} {edited}")
        shown = await sb.wait_for_item(lambda i: i.edited_text is not None, item_id=item.id)
        assert (shown.raw_text, shown.edited_text) == (REPORT, edited)
        events = await sb.services.items.events(item.id or 0)
        assert [e.action for e in events].count("edited") == 1

        opener = await sb.discord.slash_command("feedback", {}, sb.reporter)
        modal = await opener.wait_response()
        assert modal.custom_id
        submitted = await sb.discord.submit_modal(
            modal.custom_id,
            {"summary": "Dark mode", "details": "Please add a dark mode."},
            sb.reporter,
        )
        await submitted.wait_for(lambda r: r.kind == "followup", timeout=10)
        assert await sb.services.items.get_by_source(f"interaction:{opener.id}") is not None

        menu = await sb.discord.context_menu("Send to triage", int(plain["id"]), sb.maintainer)
        await menu.wait_for(lambda r: r.kind == "followup", timeout=10)
        sent = await sb.wait_for_item_from_message(int(plain["id"]), within=WAIT)
        assert sent.raw_text == REPORT


async def test_every_shard_goes_on_without_the_intent(tmp_path: Path, embedder: Embedder) -> None:
    async with sandbox_on(
        "sqlite", tmp_path, embedder.model, start_bot=False, extra_env={"SHARD_COUNT": "2"}
    ) as sb:
        sb.discord.state.message_content_intent = False
        await sb.start()
        await sb.discord.wait_for_sessions(2)
        refused = {i["shard"][0] for i in sb.discord.hub.refused_identifies}
        identified = sorted(i["shard"][0] for i in sb.discord.hub.identifies)
        assert 0 in refused and identified == [0, 1]
        assert all(not i["intents"] & MESSAGE_CONTENT for i in sb.discord.hub.identifies)
        assert not sb.runtime.gateway.done()
