"""Another server adds the bot: nothing done there reaches the home server or GitHub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.discord import FakeGuild, FakeInteraction, FakeUser
from bot.sandbox.stack import Sandbox, sandbox_stack
from storage.embeddings import Embedder
from storage.items import ItemRepository
from storage.models import FeedbackItemBase, ItemStatus
from tests.conftest import migrated_database, store_guild_channels

MANAGE_GUILD = 1 << 5
REFUSAL = "only works in"


@dataclass
class StrangerServer:
    """The home sandbox plus a server of a stranger that added the bot too."""

    sb: Sandbox
    guild: FakeGuild
    owner: FakeUser
    moderator: FakeUser
    general: int
    leftover_item: int
    leftover_message: int


async def _before_this_release(
    sb: Sandbox, guild: FakeGuild, moderator_role: int
) -> tuple[int, int]:
    """What the database held for the stranger's server before home guilds existed:
    settings pointing at the home review channel, and an item waiting for triage."""
    general = guild.channel_ids[0]
    owner = sb.discord.state.users[guild.owner_id]
    posted = await sb.discord.post_message(
        general, owner, "The export button crashes the app every single time"
    )
    async with migrated_database(sb.settings.db_url) as db:
        await store_guild_channels(
            db,
            guild.id,
            feedback=general,
            review=sb.discord.review_channel_id,
            maintainer_role=moderator_role,
        )
        item, created = await ItemRepository(db).create(
            item=FeedbackItemBase(
                source_kind="channel",
                source_key=f"message:{posted['id']}",
                guild_id=guild.id,
                channel_id=general,
                message_id=int(posted["id"]),
                author_id=owner.id,
                author_name=owner.name,
                raw_text=posted["content"],
            ),
            actor="earlier-release",
        )
    assert created and item.id is not None
    return item.id, int(posted["id"])


@pytest.fixture(scope="module")
async def stranger(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> AsyncIterator[StrangerServer]:
    """The bot stays in the stranger's server (LEAVE_UNKNOWN_GUILDS=false) to be tried there."""
    async with sandbox_stack(
        data_dir=tmp_path_factory.mktemp("stranger"),
        database_url=module_database_url,
        model=embedder.model,
        start_bot=False,
        extra_env={"LEAVE_UNKNOWN_GUILDS": "false"},
    ) as sb:
        fake = sb.discord
        owner = fake.add_outsider("sam-stranger")
        guild = fake.add_guild(name="Sam's server", owner=owner)
        mods = fake.add_role("Mods", permissions=MANAGE_GUILD, guild_id=guild.id)
        moderator = fake.add_user("mo-moderator", roles=[mods.id], guild_id=guild.id)
        leftover, message = await _before_this_release(sb, guild, mods.id)
        await sb.start()
        yield StrangerServer(sb, guild, owner, moderator, guild.channel_ids[0], leftover, message)


async def _home_sync_point(sb: Sandbox, text: str) -> None:
    """Feedback in the home server recorded: events sent before it were handled."""
    posted = await sb.discord.post_message(sb.discord.feedback_channel_id, sb.reporter, text)
    await sb.wait_for_item_from_message(int(posted["id"]))
    await asyncio.sleep(0.3)


def _stale_commands(server: StrangerServer) -> None:
    """Make the home server's commands callable in the stranger's server too (as commands
    registered globally by an earlier release would be)."""
    state = server.sb.discord.state
    home = state.commands.get(server.sb.discord.guild_id) or state.commands.get(None) or []
    state.commands[server.guild.id] = [
        {**command, "guild_id": str(server.guild.id)} for command in home
    ]


async def _refused(interaction: FakeInteraction) -> None:
    response = await interaction.wait_response()
    assert response.type == 4 and response.ephemeral, response
    assert REFUSAL in (response.content or "")
    assert not response.allowed_mentions or response.allowed_mentions.get("parse") == []
    await asyncio.sleep(0.3)
    assert len(interaction.responses) == 1, interaction.responses


async def test_commands_are_registered_in_the_home_server_only(stranger: StrangerServer) -> None:
    scopes = {c.get("guild_id") for c in stranger.sb.discord.registered_commands}
    assert scopes == {str(stranger.sb.discord.guild_id)}


async def test_messages_and_reactions_there_record_nothing(stranger: StrangerServer) -> None:
    sb, fake = stranger.sb, stranger.sb.discord
    posted = await fake.post_message(
        stranger.general, stranger.owner, "Please add dark mode, the white screen hurts at night"
    )
    await fake.add_reaction(stranger.general, int(posted["id"]), stranger.moderator, "📝")
    await fake.add_reaction(stranger.general, stranger.leftover_message, stranger.moderator, "📝")
    await _home_sync_point(sb, "Search ignores accented letters in names")

    assert await sb.services.items.get_by_source(f"message:{posted['id']}") is None
    everything = await sb.services.items.list_by_status(list(ItemStatus))
    others = [i.id for i in everything if i.guild_id != fake.guild_id]
    assert others == [stranger.leftover_item]
    assert fake.reactions_on(int(posted["id"])) == {"📝": [stranger.moderator.id]}
    assert fake.messages_in(stranger.general)[-1].author_id == stranger.owner.id


async def test_a_waiting_item_of_that_server_is_never_triaged_or_posted(
    stranger: StrangerServer,
) -> None:
    sb, fake = stranger.sb, stranger.sb.discord
    await sb.services.runner.reconcile(older_than=0)
    await _home_sync_point(sb, "Notifications arrive twice on Android 14")
    leftover = await sb.services.items.get(stranger.leftover_item)
    assert leftover is not None and leftover.status == ItemStatus.RECEIVED
    assert leftover.review_message_id is None
    reactors = fake.reactions_on(stranger.leftover_message).values()
    assert all(fake.bot_user_id not in users for users in reactors)
    assert all(m.author_id != fake.bot_user_id for m in fake.messages_in(stranger.general))


async def test_interactions_there_get_one_ephemeral_line(stranger: StrangerServer) -> None:
    sb, fake = stranger.sb, stranger.sb.discord
    _stale_commands(stranger)
    config_before = await sb.services.guild_configs.get(stranger.guild.id)
    issues_before = len(sb.github.issues_in(sb.repo))
    owner, general = stranger.owner, stranger.general
    attempts: list[Any] = [
        fake.slash_command("feedback", None, owner, general),
        fake.slash_command(
            "config set",
            {"key": "review_channel_id", "value": str(general)},
            owner,
            general,
        ),
        fake.slash_command("status", None, owner, general),
        fake.slash_command("digest", {"public": True}, stranger.moderator, general),
        fake.context_menu("Send to triage", stranger.leftover_message, stranger.moderator),
        fake.click_button(
            stranger.leftover_message,
            f"approvals:approve:{stranger.leftover_item}",
            stranger.moderator,
            check_exists=False,
        ),
        fake.submit_modal(
            "iterateswarm:feedback:1234",
            {"summary": "it crashes on start"},
            owner,
            channel_id=general,
        ),
    ]
    for attempt in attempts:
        await _refused(await attempt)

    assert await sb.services.guild_configs.get(stranger.guild.id) == config_before
    assert len(sb.github.issues_in(sb.repo)) == issues_before
    everything = await sb.services.items.list_by_status(list(ItemStatus))
    assert [i.id for i in everything if i.guild_id != fake.guild_id] == [stranger.leftover_item]
    review_channel = fake.messages_in(fake.review_channel_id)
    assert not any(f"Item #{stranger.leftover_item} ·" in str(m.embeds) for m in review_channel)


async def test_no_digest_is_ever_scheduled_for_that_server(stranger: StrangerServer) -> None:
    sb = stranger.sb
    digest = sb.bot.get_cog("Digest")
    assert digest is not None
    await digest.post_due_digests()  # type: ignore[attr-defined]
    await digest.post_due_digests()  # type: ignore[attr-defined]
    assert await digest.repository.last_posted(stranger.guild.id) is None  # type: ignore[attr-defined]
    assert await digest.repository.last_posted(sb.discord.guild_id) is not None  # type: ignore[attr-defined]


@pytest.fixture
async def leaving(
    embedder: Embedder, tmp_path: Path, db_url: str
) -> AsyncIterator[tuple[Sandbox, FakeGuild]]:
    """The default configuration, with a stranger's server added before the bot starts."""
    async with sandbox_stack(
        data_dir=tmp_path / "data", database_url=db_url, model=embedder.model, start_bot=False
    ) as sb:
        owner = sb.discord.add_outsider("sam-stranger")
        guild = sb.discord.add_guild(name="Sam's server", owner=owner)
        await sb.start()
        yield sb, guild


async def test_the_bot_leaves_unknown_servers_at_start_and_when_added(
    leaving: tuple[Sandbox, FakeGuild],
) -> None:
    sb, early = leaving
    fake = sb.discord
    await fake.state.signal.wait_for(
        lambda: fake.left_guilds or None, 10, "the bot to leave the stranger's server"
    )
    assert fake.left_guilds == [early.id]

    late = fake.add_guild(name="Added later", owner=fake.add_outsider("lee-later"))
    await fake.announce_guild(late.id)
    await fake.state.signal.wait_for(
        lambda: True if len(fake.left_guilds) == 2 else None, 10, "the bot to leave again"
    )
    assert fake.left_guilds == [early.id, late.id]
    assert sb.bot.get_guild(fake.guild_id) is not None
    assert [g.id for g in sb.bot.guilds] == [fake.guild_id]


async def test_without_a_rest_answer_the_gateway_names_the_home_server(
    embedder: Embedder, tmp_path: Path, db_url: str
) -> None:
    async with sandbox_stack(
        data_dir=tmp_path / "data", database_url=db_url, model=embedder.model, start_bot=False
    ) as sb:
        fake = sb.discord
        lookup = rf"^/channels/{fake.review_channel_id}$"
        fake.inject_failure("GET", lookup, status=400, count=1000)
        await sb.start()
        assert sb.bot.home_guilds.ids == {fake.guild_id}
        await _home_sync_point(sb, "Exports lose the time zone of every event")
        await fake.state.signal.wait_for(
            lambda: fake.state.commands.get(fake.guild_id), 10, "the commands"
        )


async def test_a_home_lookup_without_answer_is_tried_again(
    embedder: Embedder, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import client

    monkeypatch.setattr(client, "HOME_RETRY_DELAYS", (0.5,))
    async with sandbox_stack(
        data_dir=tmp_path / "data", database_url=db_url, model=embedder.model, start_bot=False
    ) as sb:
        fake = sb.discord
        # The review channel is not among the channels the gateway describes at connect.
        fake.state.guilds[fake.guild_id].channel_ids.remove(fake.review_channel_id)
        lookup = rf"^/channels/{fake.review_channel_id}$"
        failing = fake.inject_failure("GET", lookup, status=400)
        await sb.start()
        assert failing.hits == 1
        await fake.state.signal.wait_for(
            lambda: fake.state.commands.get(fake.guild_id), 10, "commands after the retry"
        )
        assert sb.bot.home_guilds.ids == {fake.guild_id}
        lookups = [r.status for r in fake.requests_matching("GET", lookup)]
        assert lookups[:2] == [400, 200]
        await _home_sync_point(sb, "Exports lose the time zone of every event")
