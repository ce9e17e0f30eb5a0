"""The digest over the wire: /digest for maintainers and the scheduled review-channel post."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import insert

from agents.dedup.documents import feedback_document
from bot.sandbox.discord import FakeUser
from bot.sandbox.stack import Sandbox, sandbox_stack
from cogs.digest._cog import NOT_MAINTAINER
from storage.embeddings import Embedder
from storage.items import text_hash
from storage.models import FeedbackItem, ItemStatus, utcnow

WAIT = 30.0
EXPORT_CRASHES = (
    "The app crashes every time I click the Export button on the settings page.",
    "Clicking Export in settings makes the whole app crash and close.",
    "Export button on the settings screen crashes the application every time.",
)
FEATURE = "Please add a dark mode to the mobile app, the white screen hurts at night."
PRAISE = "Great work everyone, thanks a lot!"


async def _report(sb: Sandbox, text: str, author: FakeUser) -> FeedbackItem:
    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, author, text)
    return await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)


async def _reviewed(sb: Sandbox, text: str, author: FakeUser) -> FeedbackItem:
    item = await _report(sb, text, author)
    assert item.id is not None
    await sb.wait_for_review_message(item.id, within=WAIT)
    fresh = await sb.item(item.id)
    assert fresh is not None
    return fresh


async def _click(sb: Sandbox, item: FeedbackItem, action: str) -> Any:
    review_id = item.review_message_id or 0
    shown = sb.discord.component_id(review_id, f"approvals:{action}:{item.id}")
    interaction = await sb.discord.click_button(review_id, shown, sb.maintainer)
    await interaction.wait_response(timeout=5)
    return interaction


async def _digest(sb: Sandbox, user: FakeUser, options: dict[str, Any] | None = None) -> Any:
    interaction = await sb.discord.slash_command("digest", options, user)
    first = await interaction.wait_response()
    assert first.type == 5, "deferred first"
    return await interaction.wait_for(lambda r: r.kind == "followup", timeout=WAIT)


def _fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}


@pytest.fixture
async def sb(tmp_path: Path, embedder: Embedder) -> AsyncIterator[Sandbox]:
    async with sandbox_stack(data_dir=tmp_path / "data", model=embedder.model) as sandbox:
        yield sandbox


async def test_digest_command_counts_waits_and_themes(sb: Sandbox) -> None:
    filed = await _reviewed(sb, EXPORT_CRASHES[0], sb.reporter)
    rejected = await _reviewed(sb, EXPORT_CRASHES[1], sb.outsider)
    waiting = await _reviewed(sb, EXPORT_CRASHES[2], sb.maintainer)
    feature = await _reviewed(sb, FEATURE, sb.reporter)
    praise = await _report(sb, PRAISE, sb.outsider)
    await sb.wait_for_item_status(praise.id or 0, ItemStatus.NOT_ACTIONABLE, within=WAIT)
    await _click(sb, filed, "approve")
    await sb.wait_for_item_status(filed.id or 0, ItemStatus.FILED, within=WAIT)
    opened = await _click(sb, rejected, "reject")
    assert opened.callback is not None and opened.callback.custom_id is not None
    submitted = await sb.discord.submit_modal(
        opened.callback.custom_id,
        {"reason": ""},
        sb.maintainer,
        message_id=rejected.review_message_id,
    )
    await submitted.wait_response(timeout=5)
    await sb.wait_for_item_status(rejected.id or 0, ItemStatus.REJECTED, within=WAIT)

    answer = await _digest(sb, sb.maintainer)
    assert answer.ephemeral
    (embed,) = answer.embeds
    fields = _fields(embed)
    items = [await sb.item(i.id or 0) for i in (filed, rejected, waiting, feature, praise)]
    assert "New feedback: 5" in fields
    kinds: dict[str, int] = {}
    for item in items:
        assert item is not None
        kinds[item.kind or "untriaged"] = kinds.get(item.kind or "untriaged", 0) + 1
    for kind, count in kinds.items():
        assert f"{kind}: {count}" in fields["New feedback: 5"]
    assert fields["Decisions"] == "filed: 1 · rejected: 1 · duplicate: 0 · not actionable: 1"

    oldest = fields["Oldest waiting for review"].splitlines()
    guild = sb.discord.guild_id
    assert len(oldest) == 2
    assert f"#{waiting.id} " in oldest[0] and f"#{feature.id} " in oldest[1]
    review_link = f"https://discord.com/channels/{guild}/{waiting.review_channel_id}/"
    assert f"{review_link}{waiting.review_message_id})" in oldest[0]

    themes = fields["Recurring themes"].splitlines()
    assert "3 reports" in themes[0]
    for item in (filed, rejected, waiting):
        assert f"[#{item.id}]" in themes[0]
    assert f"#{feature.id}]" not in fields["Recurring themes"]
    sb.discord.assert_never_pinged()


async def test_digest_command_refuses_non_maintainers_privately(sb: Sandbox) -> None:
    answer = await _digest(sb, sb.outsider, {"public": True})
    assert answer.ephemeral and answer.content == NOT_MAINTAINER
    assert not [m for m in sb.discord.messages_in(sb.discord.feedback_channel_id) if m.embeds]


async def test_public_digest_is_posted_in_the_channel(sb: Sandbox) -> None:
    await _reviewed(sb, FEATURE, sb.reporter)
    answer = await _digest(sb, sb.maintainer, {"public": True})
    assert not answer.ephemeral
    assert "New feedback: 1" in _fields(answer.embeds[0])


async def test_scheduled_digest_lands_in_the_review_channel(
    tmp_path: Path, embedder: Embedder
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path / "data", model=embedder.model, extra_env={"DIGEST_INTERVAL": "2s"}
    ) as sb:
        await _reviewed(sb, FEATURE, sb.reporter)
        posted = await sb.discord.wait_for_message(
            sb.discord.review_channel_id,
            lambda m: bool(m.embeds) and m.embeds[0].get("title") == "📊 Feedback digest",
            timeout=WAIT,
        )
        assert posted.author_id == sb.discord.bot_user_id
        items = await sb.services.items.list_by_status(list(ItemStatus))
        assert len(items) == 1, "the digest never becomes feedback"
        sb.discord.assert_never_pinged()


OTHER_TOPICS = (
    "Please add a dark mode to the dashboard.",
    "How do I invite a teammate to my workspace?",
    "The password reset email never arrives.",
    "Support two-factor authentication with hardware keys.",
    "Notifications on Android come in twice.",
    "The search results ignore accented letters.",
    "Allow exporting reports as PDF files.",
    "The calendar shows the wrong time zone after travel.",
    "Uploading a large video stalls at 99 percent.",
    "Add keyboard shortcuts for switching between projects.",
)
CROWD = 10_000
EXPORT_SHARE = 4_000


async def _flood_of_filed_items(sb: Sandbox, embedder: Embedder) -> None:
    """10,000 filed items of this month, indexed as triage indexes them (stored vectors)."""
    texts = [*EXPORT_CRASHES, *OTHER_TOPICS]
    vectors = embedder.encode(texts)
    now, guild = utcnow(), sb.discord.guild_id
    rows, documents, embeddings = [], [], []
    for n in range(CROWD):
        pick = n % len(EXPORT_CRASHES) if n < EXPORT_SHARE else 3 + n % len(OTHER_TOPICS)
        text = f"{texts[pick]} (report {n})"
        rows.append(
            {
                "source_kind": "channel",
                "source_key": f"flood:{n}",
                "guild_id": guild,
                "channel_id": sb.discord.feedback_channel_id,
                "author_id": 10_000 + n,
                "author_name": f"member {n}",
                "raw_text": text,
                "text_hash": text_hash(text),
                "status": ItemStatus.FILED,
                "kind": "bug",
                "severity": "medium",
                "actionable": True,
                "flow_done": True,
                "repo": sb.repo,
                "created_at": now,
                "updated_at": now,
            }
        )
    await sb.services.db.write(lambda conn: conn.execute(insert(FeedbackItem), rows))
    stored = await sb.services.items.list_by_status([ItemStatus.FILED])
    for item in stored:
        n = int(item.source_key.split(":")[1])
        pick = n % len(EXPORT_CRASHES) if n < EXPORT_SHARE else 3 + n % len(OTHER_TOPICS)
        documents.append(feedback_document(item_id=item.id or 0, text=item.raw_text))
        embeddings.append(vectors[pick])
    assert sb.services.dedup is not None
    for start in range(0, len(documents), 2000):  # each call well within the store's timeout
        chunk = slice(start, start + 2000)
        await sb.services.dedup.store.upsert(
            sb.repo, documents[chunk], np.vstack(embeddings[chunk])
        )


async def test_digest_over_ten_thousand_items_answers_within_discords_limits(
    tmp_path: Path, embedder: Embedder, db_url: str
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path / "data", database_url=db_url, model=embedder.model
    ) as sb:
        await _flood_of_filed_items(sb, embedder)
        answer = await _digest(sb, sb.maintainer)
        (embed,) = answer.embeds
        fields = _fields(embed)
        assert f"New feedback: {CROWD}" in fields
        assert f"bug: {CROWD}" in fields[f"New feedback: {CROWD}"]
        themes = fields["Recurring themes"].splitlines()
        assert f"{EXPORT_SHARE} reports" in themes[0]
        assert len(themes) == 5
        assert all(len(value) <= 1024 for value in fields.values())
        total = len(embed.get("title", "")) + len(embed.get("description", ""))
        total += sum(len(name) + len(value) for name, value in fields.items())
        assert total <= 6000


def test_a_digest_cut_short_by_its_time_cap_says_so() -> None:
    from datetime import UTC, datetime

    from cogs.digest._build import Digest
    from cogs.digest._render import digest_embed

    now = datetime.now(UTC)
    embed = digest_embed(Digest(guild_id=1, since=now, until=now, themes_partial=True))
    themes = next(f for f in embed.fields if f.name == "Recurring themes")
    assert "time limit" in (themes.value or "")
