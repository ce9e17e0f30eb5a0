"""/status and /config over the wire, and the status report gathered from the real services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.guild_settings import EDITABLE_KEYS
from bot.sandbox.discord import FakeUser
from bot.sandbox.stack import Sandbox, sandbox_stack
from cogs.admin._cog import NOT_A_MANAGER, NOT_MAINTAINER
from cogs.admin._status import effective_config, gather_status, status_fields
from storage.embeddings import Embedder
from storage.models import ItemStatus


@pytest.fixture(scope="module")
async def sb(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sandbox]:
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("admin"),
        model=embedder.model,
        extra_env={"ALLOWED_REPOS": "acme/widgets,acme/gadgets", "TRIAGE_REACTION_EMOJI": "🧪"},
    ) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def manager(sb: Sandbox) -> FakeUser:
    """A member with Manage Server (and no maintainer role): may change settings."""
    role = sb.discord.add_role("Server Manager", permissions=1 << 5)
    return sb.discord.add_user("mel-manager", roles=[role.id])


@pytest.fixture(scope="module")
async def awaiting_item(sb: Sandbox) -> int:
    """One item waiting for review and one praise item, created through the channel."""
    bug = await sb.discord.post_message(
        sb.discord.feedback_channel_id, sb.reporter, "Saving a draft loses the attachments"
    )
    praise = await sb.discord.post_message(
        sb.discord.feedback_channel_id, sb.reporter, "Great work everyone, thanks a lot!"
    )
    item = await sb.wait_for_item_from_message(int(bug["id"]))
    liked = await sb.wait_for_item_from_message(int(praise["id"]))
    await sb.wait_for_item_status(item.id or 0, ItemStatus.AWAITING_REVIEW)
    await sb.wait_for_item_status(liked.id or 0, ItemStatus.NOT_ACTIONABLE)
    await sb.wait_for_review_message(item.id or 0)
    return item.id or 0


async def _command(sb: Sandbox, name: str, options: dict[str, Any] | None, user: FakeUser) -> Any:
    interaction = await sb.discord.slash_command(name, options, user)
    first = await interaction.wait_response()
    assert first.type == 5 and first.ephemeral, "deferred ephemerally first"
    return await interaction.wait_for(lambda r: r.kind == "followup", timeout=10)


def _field(embed: dict[str, Any], name: str) -> str:
    return next(f["value"] for f in embed["fields"] if f["name"] == name)


async def test_status_answers_maintainers_with_counts(sb: Sandbox, awaiting_item: int) -> None:
    answer = await _command(sb, "status", None, sb.maintainer)
    assert answer.ephemeral
    (embed,) = answer.embeds
    counts = await sb.services.items.counts_by_status(guild_id=sb.discord.guild_id)
    items = _field(embed, "Items")
    for status, count in counts.items():
        assert f"{status}: {count}" in items
    not_actionable = counts.get("not_actionable", 0)
    assert f"not actionable: {not_actionable}" in items
    assert f"actionable: {sum(counts.values()) - not_actionable}" in items
    assert f"received: {sum(counts.values())}" in _field(embed, "Last 24 h")
    review = await sb.services.items.get(awaiting_item)
    assert review is not None
    oldest = _field(embed, "Oldest waiting")
    assert f"#{awaiting_item}" in oldest and str(review.review_message_id) in oldest
    assert "no LLM configured" in _field(embed, "Engine")
    assert "reachable" in _field(embed, "GitHub") and "rate limit" in _field(embed, "GitHub")
    assert _field(embed, "Database").startswith("sqlite: ok")
    assert "acme/widgets" in _field(embed, "Duplicate index")
    assert _field(embed, "Version")
    assert "Unavailable" not in {f["name"] for f in embed["fields"]}


async def test_status_is_refused_to_non_maintainers(sb: Sandbox) -> None:
    answer = await _command(sb, "status", None, sb.outsider)
    assert answer.ephemeral and answer.content == NOT_MAINTAINER
    assert not answer.embeds


async def test_slow_github_is_reported_not_waited_for(sb: Sandbox) -> None:
    sb.github.delay_next("GET /rate_limit", seconds=3)
    report = await gather_status(sb.services, guild_id=sb.discord.guild_id, timeout=0.5)
    assert report.github["configured"] and not report.github["reachable"]
    assert "no answer within" in report.github["reason"]
    assert report.database["ok"]
    fields = dict(status_fields(report))
    assert fields["GitHub"].startswith("unreachable")


async def test_status_report_counts_match_the_database(sb: Sandbox, awaiting_item: int) -> None:
    report = await gather_status(sb.services, guild_id=sb.discord.guild_id)
    counts = await sb.services.items.counts_by_status(guild_id=sb.discord.guild_id)
    assert report.counts == counts
    assert report.not_actionable == counts.get("not_actionable", 0)
    assert report.oldest_waiting is not None and report.oldest_waiting["id"] == awaiting_item
    assert report.index["repo"] == "acme/widgets"
    assert report.errors == []


async def test_config_set_then_show(sb: Sandbox, manager: FakeUser) -> None:
    answer = await _command(sb, "config set", {"key": "review_confidence", "value": "0.7"}, manager)
    assert "is now 0.7" in (answer.content or "")
    settings = await sb.services.guild_settings.resolve(sb.discord.guild_id)
    assert settings.review_confidence == 0.7
    shown = await _command(sb, "config show", None, sb.maintainer)
    (embed,) = shown.embeds
    lines = embed["description"].splitlines()
    assert len(lines) == len(EDITABLE_KEYS)
    assert "**review\\_confidence** = 0.7 _(stored)_" in lines
    assert f"<#{sb.discord.feedback_channel_id}> _(environment)_" in embed["description"]
    assert any(line.startswith("**triage\\_emoji** = 🧪 _(environment)_") for line in lines)
    assert any("approve\\_emoji** = ✅ _(default)_" in line for line in lines)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("review_confidence", "2", "Invalid value for `review_confidence`"),
        ("duplicate_threshold", "high", "takes a number between 0 and 1"),
        ("notify_reporter", "maybe", "takes true or false"),
        ("repo", "evil/repo", "not in ALLOWED_REPOS"),
    ],
)
async def test_config_set_refuses_bad_values(
    sb: Sandbox, manager: FakeUser, key: str, value: str, reason: str
) -> None:
    before = await sb.services.guild_configs.get(sb.discord.guild_id)
    answer = await _command(sb, "config set", {"key": key, "value": value}, manager)
    assert answer.ephemeral
    assert answer.content.startswith("Not changed:") and reason in answer.content
    assert await sb.services.guild_configs.get(sb.discord.guild_id) == before


async def test_config_set_accepts_an_allowlisted_repo(sb: Sandbox, manager: FakeUser) -> None:
    answer = await _command(sb, "config set", {"key": "repo", "value": "Acme/Gadgets"}, manager)
    assert answer.content == "`repo` is now acme/gadgets."
    rows = {r.key: r for r in await effective_config(sb.services, sb.discord.guild_id)}
    assert (rows["repo"].value, rows["repo"].source) == ("acme/gadgets", "stored")
    reset = await _command(sb, "config set", {"key": "repo", "value": "default"}, manager)
    assert reset.content == "`repo` is now acme/widgets."


async def test_config_is_refused_to_non_maintainers(sb: Sandbox) -> None:
    before = await sb.services.guild_configs.get(sb.discord.guild_id)
    answer = await _command(sb, "config set", {"key": "ack_emoji", "value": "🙈"}, sb.outsider)
    assert answer.content == f"Not changed: {NOT_A_MANAGER}"
    assert await sb.services.guild_configs.get(sb.discord.guild_id) == before
    shown = await _command(sb, "config show", None, sb.reporter)
    assert shown.content == NOT_MAINTAINER and not shown.embeds


async def test_config_boolean_is_stored(sb: Sandbox, manager: FakeUser) -> None:
    await _command(sb, "config set", {"key": "notify_reporter", "value": "false"}, manager)
    stored = await sb.services.guild_configs.get(sb.discord.guild_id)
    assert stored["notify_reporter"] is False
    rows = {r.key: r for r in await effective_config(sb.services, sb.discord.guild_id)}
    assert rows["notify_reporter"].source == "stored"
