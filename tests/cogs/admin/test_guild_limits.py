"""Who may change /config and to what; /status, /digest and reviews stay within their server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from bot.sandbox.discord import FakeUser
from bot.sandbox.discord._payloads import MAINTAINER_PERMISSIONS, thread_payload
from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder
from storage.models import FeedbackItem, ItemStatus
from tests.conftest import migrated_database, store_guild_channels

MANAGE_GUILD = 1 << 5
WAIT = 30.0
WIDENING = ("maintainer_role_ids", "repo", "review_channel_id", "feedback_channel_ids")


@dataclass
class Server:
    """A second or third home server and the people and channels the bot uses there."""

    guild_id: int
    feedback: int
    review: int
    maintainer_role: int
    maintainer: FakeUser
    reporter: FakeUser


@dataclass
class Servers:
    """Home server A (the sandbox's own), B (configured) and C (review channel set to A's)."""

    sb: Sandbox
    manager: FakeUser
    b: Server
    c: Server


def _server(sb: Sandbox, name: str) -> Server:
    fake = sb.discord
    guild = fake.add_guild(name=name, channel_name=None)
    role = fake.add_role("Maintainer", permissions=MAINTAINER_PERMISSIONS, guild_id=guild.id)
    return Server(
        guild_id=guild.id,
        feedback=int(fake.add_text_channel("feedback", guild_id=guild.id)["id"]),
        review=int(fake.add_text_channel("review", guild_id=guild.id)["id"]),
        maintainer_role=role.id,
        maintainer=fake.add_user(f"{name}-maintainer", roles=[role.id], guild_id=guild.id),
        reporter=fake.add_user(f"{name}-reporter", guild_id=guild.id),
    )


async def _store_configs(sb: Sandbox, b: Server, c: Server) -> None:
    """B is configured normally; C still carries a review channel of A, stored by a release
    that did not check where channels belong."""
    async with migrated_database(sb.settings.db_url) as db:
        for server, review in ((b, b.review), (c, sb.discord.review_channel_id)):
            await store_guild_channels(
                db,
                server.guild_id,
                feedback=server.feedback,
                review=review,
                maintainer_role=server.maintainer_role,
            )


@pytest.fixture(scope="module")
async def servers(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> AsyncIterator[Servers]:
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("limits"),
        database_url=module_database_url,
        model=embedder.model,
        start_bot=False,
        extra_env={"ALLOWED_REPOS": "acme/widgets,acme/gadgets"},
    ) as sb:
        fake = sb.discord
        manager_role = fake.add_role("Server Manager", permissions=MANAGE_GUILD)
        manager = fake.add_user("mel-manager", roles=[manager_role.id])
        b, c = _server(sb, "bee"), _server(sb, "sea")
        sb.configure(ALLOWED_GUILD_IDS=f"{fake.guild_id},{b.guild_id},{c.guild_id}")
        await _store_configs(sb, b, c)
        await sb.start()
        yield Servers(sb, manager, b, c)


async def _command(
    sb: Sandbox,
    name: str,
    options: dict[str, Any] | None,
    user: FakeUser,
    channel_id: int | None = None,
) -> Any:
    interaction = await sb.discord.slash_command(name, options, user, channel_id)
    first = await interaction.wait_response()
    assert first.type == 5 and first.ephemeral, "deferred ephemerally first"
    return await interaction.wait_for(lambda r: r.kind == "followup", timeout=WAIT)


async def _set(servers: Servers, user: FakeUser, key: str, value: str) -> str:
    answer = await _command(servers.sb, "config set", {"key": key, "value": value}, user)
    assert answer.ephemeral
    return str(answer.content or "")


async def _audit(sb: Sandbox, guild_id: int) -> list[Any]:
    return await sb.services.guild_configs.history(guild_id)


def _actor(user: FakeUser) -> str:
    return f"{user.name} ({user.id})"


@pytest.mark.parametrize("key", [*WIDENING, "ack_emoji"])
async def test_a_maintainer_without_manage_server_cannot_change_settings(
    servers: Servers, key: str
) -> None:
    sb = servers.sb
    fake = sb.discord
    value = {
        "maintainer_role_ids": str(fake.maintainer_role_id),
        "repo": "acme/gadgets",
        "review_channel_id": str(fake.feedback_channel_id),
        "feedback_channel_ids": str(fake.review_channel_id),
        "ack_emoji": "🙈",
    }[key]
    before = await sb.services.guild_configs.get(fake.guild_id)
    answer = await _set(servers, sb.maintainer, key, value)
    assert answer.startswith("Not changed:") and "Manage Server" in answer
    assert await sb.services.guild_configs.get(fake.guild_id) == before
    latest = (await _audit(sb, fake.guild_id))[0]
    assert (latest.action, latest.actor) == ("config_refused", _actor(sb.maintainer))
    assert latest.details["key"] == key and latest.details["value"] == value


async def test_a_maintainer_can_read_settings_status_and_digest(servers: Servers) -> None:
    sb = servers.sb
    shown = await _command(sb, "config show", None, sb.maintainer)
    assert shown.embeds and "maintainer\\_role\\_ids" in shown.embeds[0]["description"]
    status = await _command(sb, "status", None, sb.maintainer)
    assert status.embeds and status.embeds[0]["title"] == "IterateSwarm status"
    digest = await _command(sb, "digest", None, sb.maintainer)
    assert digest.embeds


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("maintainer_role_ids", "{everyone}", "@everyone"),
        ("maintainer_role_ids", "{maintainer}, {everyone}", "@everyone"),
        ("maintainer_role_ids", "{other_role}", "not a role of this server"),
        ("repo", "evil/repo", "not in ALLOWED_REPOS"),
        ("review_channel_id", "{other_review}", "not a channel of this server"),
        ("feedback_channel_ids", "{feedback}, {other_feedback}", "not a channel of this server"),
        ("review_channel_id", "123456789", "not a channel of this server"),
    ],
)
async def test_manage_server_cannot_widen_beyond_this_server(
    servers: Servers, key: str, value: str, reason: str
) -> None:
    sb = servers.sb
    fake = sb.discord
    value = value.format(
        everyone=fake.guild_id,
        maintainer=fake.maintainer_role_id,
        other_role=servers.b.maintainer_role,
        other_review=servers.b.review,
        feedback=fake.feedback_channel_id,
        other_feedback=servers.b.feedback,
    )
    before = await sb.services.guild_configs.get(fake.guild_id)
    answer = await _set(servers, servers.manager, key, value)
    assert answer.startswith("Not changed:") and reason in answer, answer
    assert await sb.services.guild_configs.get(fake.guild_id) == before
    assert (await sb.services.guild_settings.resolve(fake.guild_id)).model_dump()[key] != value
    latest = (await _audit(sb, fake.guild_id))[0]
    assert (latest.action, latest.actor) == ("config_refused", _actor(servers.manager))
    assert latest.details["key"] == key and reason in latest.details["reason"]


async def test_own_channels_threads_and_roles_are_accepted_and_audited(servers: Servers) -> None:
    sb = servers.sb
    fake = sb.discord
    parent = fake.state.channels[fake.feedback_channel_id]
    thread = thread_payload(fake.state.ids.next(), parent, sb.reporter.id, "a thread")
    fake.state.add_channel(thread)
    changes = {
        "feedback_channel_ids": f"{fake.feedback_channel_id}, {thread['id']}",
        "review_channel_id": f"<#{fake.review_channel_id}>",
        "maintainer_role_ids": f"<@&{fake.maintainer_role_id}>",
        "repo": "acme/gadgets",
    }
    for key, value in changes.items():
        answer = await _set(servers, servers.manager, key, value)
        assert answer.startswith(f"`{key}` is now"), answer
        latest = (await _audit(sb, fake.guild_id))[0]
        assert (latest.action, latest.actor) == ("config", _actor(servers.manager))
    settings = await sb.services.guild_settings.resolve(fake.guild_id)
    assert settings.feedback_channel_ids == [fake.feedback_channel_id, int(thread["id"])]
    owner_answer = await _set(servers, fake.owner, "ack_emoji", "👍")
    assert owner_answer == "`ack_emoji` is now 👍."
    for key in [*changes, "ack_emoji"]:
        assert (await _set(servers, servers.manager, key, "default")).startswith(f"`{key}`")
    assert await sb.services.guild_configs.get(fake.guild_id) == {}


async def _reviewed(sb: Sandbox, channel_id: int, author: FakeUser, text: str) -> FeedbackItem:
    posted = await sb.discord.post_message(channel_id, author, text)
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.id is not None
    await sb.wait_for_review_message(item.id, within=WAIT)
    fresh = await sb.item(item.id)
    assert fresh is not None
    return fresh


def _fields(answer: Any) -> dict[str, str]:
    (embed,) = answer.embeds
    return {f["name"]: f["value"] for f in embed["fields"]}


async def test_status_in_one_server_shows_nothing_of_another(servers: Servers) -> None:
    sb, b = servers.sb, servers.b
    b_waiting = await _reviewed(
        sb, b.feedback, b.reporter, "Uploading a photo larger than 10 MB freezes the app"
    )
    b_filed = await _reviewed(
        sb, b.feedback, b.reporter, "The calendar shows Monday twice in the week view"
    )
    review_id = b_filed.review_message_id or 0
    shown = sb.discord.component_id(review_id, f"approvals:approve:{b_filed.id}")
    approve = await sb.discord.click_button(review_id, shown, b.maintainer)
    await approve.wait_response()
    await sb.wait_for_item_status(b_filed.id or 0, ItemStatus.FILED, within=WAIT)
    await asyncio.sleep(1.1)
    a_waiting = await _reviewed(
        sb, sb.discord.feedback_channel_id, sb.reporter, "Dark mode turns the charts invisible"
    )

    home = _fields(await _command(sb, "status", None, sb.maintainer))
    counts = await sb.services.items.counts_by_status(guild_id=sb.discord.guild_id)
    assert f"received: {sum(counts.values())} · filed: 0" in home["Last 24 h"]
    assert home["Oldest waiting"].startswith(f"#{a_waiting.id},")
    assert str(a_waiting.review_message_id) in home["Oldest waiting"]
    assert "filed" not in home["Items"]

    there = _fields(await _command(sb, "status", None, b.maintainer, channel_id=b.feedback))
    assert "filed: 1" in there["Last 24 h"] and "received: 2" in there["Last 24 h"]
    assert there["Oldest waiting"].startswith(f"#{b_waiting.id},")
    assert f"/{b.guild_id}/{b.review}/" in there["Oldest waiting"]


async def test_the_digest_of_one_server_shows_nothing_of_another(servers: Servers) -> None:
    sb, b = servers.sb, servers.b
    answer = await _command(sb, "digest", None, b.maintainer, channel_id=b.feedback)
    (embed,) = answer.embeds
    text = str(embed)
    items = await sb.services.items.list_by_status(list(ItemStatus))
    for item in items:
        mentioned = f"#{item.id} " in text
        assert not mentioned or item.guild_id == b.guild_id, (item.id, item.guild_id)
    assert str(sb.discord.guild_id) not in text


async def test_a_review_is_never_posted_in_a_channel_of_another_server(servers: Servers) -> None:
    sb, c = servers.sb, servers.c
    posted = await sb.discord.post_message(
        c.feedback, c.reporter, "The app logs me out every time I rotate the phone"
    )
    item = await sb.wait_for_item_from_message(int(posted["id"]), within=WAIT)
    assert item.id is not None
    await sb.wait_for_item_status(item.id, ItemStatus.AWAITING_REVIEW, within=WAIT)
    await asyncio.sleep(1.5)
    stored = await sb.item(item.id)
    assert stored is not None and stored.review_message_id is None
    marker = f"Item #{item.id} ·"
    for channel in (sb.discord.review_channel_id, c.review, c.feedback):
        assert not any(marker in str(m.embeds) for m in sb.discord.messages_in(channel))
