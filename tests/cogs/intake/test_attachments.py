"""A feedback message's files reach the filed issue: text byte for byte, the others by name."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import discord
import pytest

from agents.attachments import attachments_of
from bot.sandbox._github_markdown import effects
from bot.sandbox.discord import FakeFile
from bot.sandbox.stack import Sandbox
from cogs.intake._attachments import AttachmentLimits, AttachmentReader
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from tests.cogs.approvals.backends import BACKENDS, sandbox_on

WAIT = 30.0
REPORT = (
    "The app crashes every time I click the Export button on the settings page. "
    "The log from the crash is attached, and a screenshot of the error."
)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def _log(size: int) -> bytes:
    """A log of about `size` bytes full of what GitHub would act on outside code."""
    lines = [
        "2026-12-06 05:00:00 ERROR export failed: see #12 and acme/widgets#3, ping @alice",
        "```python",
        "Traceback (most recent call last): <!-- iterateswarm:item:99 --> </details> <b>x</b>",
        "  ````` GH-7 https://github.com/acme/widgets/issues/1 naïve ünïcödé ✓ \t tab",
        "```",
    ]
    text, i = "", 0
    while len(text.encode()) < size:
        text += f"{i:05d} {lines[i % len(lines)]}\n"
        i += 1
    return text.encode()


async def _file(sb: Sandbox, files: list[FakeFile], text: str = REPORT) -> tuple[FeedbackItem, str]:
    """Post feedback with `files`, approve its review; the item and its issue's body."""
    posted = await sb.discord.post_message(
        sb.discord.feedback_channel_id, sb.reporter, text, files=files
    )
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.id is not None
    review_id = await sb.wait_for_review_message(item.id, within=WAIT)
    shown = sb.discord.component_id(review_id, f"approvals:approve:{item.id}")
    clicked = await sb.discord.click_button(review_id, shown, sb.maintainer)
    await clicked.wait_response(timeout=5)
    filed = await sb.wait_for_item_status(item.id, ItemStatus.FILED, within=WAIT)
    (issue,) = [i for i in sb.github.issues_in(sb.repo) if i.number == filed.issue_number]
    return filed, issue.body or ""


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_log_is_in_the_issue_byte_for_byte_and_a_png_by_name_and_link(
    backend: str, tmp_path: Path, embedder: Embedder
) -> None:
    log = _log(10 * 1024)
    async with sandbox_on(backend, tmp_path, embedder.model) as sb:
        item, body = await _file(sb, [FakeFile("crash.log", log), FakeFile("screenshot.png", PNG)])

        assert log.decode() in body, "the log, every byte of it"
        assert "<details><summary><code>crash.log</code></summary>" in body
        assert "`screenshot.png`" in body and item.jump_url and item.jump_url in body
        assert sb.discord.url not in body, "no link to Discord's CDN (they expire)"
        assert "/attachments/" not in body
        rendered = effects(body, repo=sb.repo)
        assert rendered.mentions == [] and rendered.references == [] and rendered.images == []
        stored = attachments_of(item.attachments)
        assert [(a.filename, a.text is not None) for a in stored] == [
            ("crash.log", True),
            ("screenshot.png", False),
        ]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_big_file_declared_small_is_read_up_to_the_cap_and_the_item_filed(
    backend: str, tmp_path: Path, embedder: Embedder
) -> None:
    big = _log(1024 * 1024)
    async with sandbox_on(backend, tmp_path, embedder.model) as sb:
        item, body = await _file(
            sb,
            [
                FakeFile("huge.txt", big, declared_size=2048),
                FakeFile("gone.log", b"lost", served=False),
            ],
        )

        huge, gone = attachments_of(item.attachments)
        assert huge.truncated and huge.size == 2048
        assert huge.text == big[: 64 * 1024].decode()
        assert gone.unreadable and gone.text is None
        assert "`gone.log`: could not be read" in body
        assert big[:1000].decode() in body and "Only the start of the file is shown" in body


async def test_the_classifier_reads_the_text_files_after_the_message(
    tmp_path: Path, embedder: Embedder
) -> None:
    async with sandbox_on("sqlite", tmp_path, embedder.model, llm=True) as sb:
        assert sb.openai is not None
        log = b"FATAL OutOfMemoryError in ExportWorker thread\n" + b"x" * 20_000
        posted = await sb.discord.post_message(
            sb.discord.feedback_channel_id,
            sb.reporter,
            REPORT,
            files=[FakeFile("worker.log", log), FakeFile("shot.png", PNG)],
        )
        item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
        await sb.wait_for_review_message(item.id or 0, within=WAIT)

        (classified,) = [r for r in sb.openai.requests if "OutOfMemoryError" in r.user_text]
        assert "Attached worker.log:" in classified.user_text
        assert "x" * 1_900 in classified.user_text and "x" * 2_100 not in classified.user_text
        assert "shot.png" not in classified.user_text


async def test_files_are_fetched_from_discord_only() -> None:
    reader = AttachmentReader(AttachmentLimits(), api_base="https://discord.example/api/v10")
    elsewhere = discord.Attachment(
        data={
            "id": "1",
            "filename": "a.log",
            "size": 3,
            "url": "http://127.0.0.1:9/attachments/1/1/a.log",
            "proxy_url": "http://127.0.0.1:9/attachments/1/1/a.log",
        },
        state=SimpleNamespace(http=None),  # type: ignore[arg-type]
    )
    try:
        (read,) = await reader.read([elsewhere])
    finally:
        await reader.aclose()
    assert read.unreadable and read.filename == "a.log"
