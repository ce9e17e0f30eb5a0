"""Wire-level tests: forum channels of the fake Discord seen through the real discord.py client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from bot.sandbox.fake_discord import FakeDiscord, FakeUser
from tests.bot.sandbox.test_fake_discord import SandboxBot, eventually, pointed_at, running


class ForumBot(SandboxBot):
    """Records forum posts and the messages in them."""

    def __init__(self, fake: FakeDiscord, **options: Any) -> None:
        super().__init__(fake, **options)
        self.threads: list[discord.Thread] = []

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads.append(thread)


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture(scope="module")
def forum_id(fake: FakeDiscord) -> int:
    return int(fake.add_forum_channel("bug-reports")["id"])


@pytest.fixture(scope="module")
async def bot(fake: FakeDiscord) -> AsyncIterator[ForumBot]:
    with pointed_at(fake):
        async with running(ForumBot(fake), fake.token) as client:
            yield client


@pytest.fixture(scope="module")
def member(fake: FakeDiscord) -> FakeUser:
    return fake.add_user("sam")


async def test_a_post_arrives_as_a_tagged_thread_of_the_forum_with_its_starter_message(
    fake: FakeDiscord, forum_id: int, bot: ForumBot, member: FakeUser
) -> None:
    forum = bot.get_channel(forum_id)
    assert isinstance(forum, discord.ForumChannel)
    assert [t.name for t in forum.available_tags][:3] == ["bug", "feature", "question"]

    post = await fake.create_forum_post(
        forum_id, member, "Export crashes", "It closes.", tags=["bug"]
    )
    thread = await eventually(
        lambda: next((t for t in bot.threads if t.id == int(post["id"])), None)
    )
    assert thread.parent_id == forum_id and isinstance(thread.parent, discord.ForumChannel)
    assert thread.name == "Export crashes"
    assert [t.name for t in thread.applied_tags] == ["bug"]
    starter = await eventually(lambda: next((m for m in bot.seen if m.id == thread.id), None))
    assert starter.channel.id == thread.id and starter.content == "It closes."

    await fake.post_message(thread.id, member, "Same on Linux.")
    reply = await eventually(
        lambda: next((m for m in bot.seen if m.content == "Same on Linux."), None)
    )
    assert reply.channel.id == thread.id and reply.id != thread.id


async def test_tags_archive_and_permissions_follow_discord(
    fake: FakeDiscord, forum_id: int, bot: ForumBot, member: FakeUser
) -> None:
    post = await fake.create_forum_post(forum_id, member, "Dark mode", "Please add it.")
    thread = await eventually(lambda: bot.get_channel(int(post["id"])))
    assert isinstance(thread, discord.Thread)
    forum = thread.parent
    assert isinstance(forum, discord.ForumChannel)
    tracked = next(t for t in forum.available_tags if t.name == "tracked")

    await thread.edit(applied_tags=[tracked])
    assert fake.post_tags(thread.id) == ["tracked"]
    await thread.edit(archived=True)
    assert fake.post_archived(thread.id)
    with pytest.raises(discord.HTTPException) as archived:
        await thread.edit(applied_tags=[])
    assert archived.value.code == 50083
    await thread.edit(archived=False, applied_tags=[])
    assert fake.post_tags(thread.id) == [] and not fake.post_archived(thread.id)

    await thread.edit(archived=True)
    await thread.send("still here", allowed_mentions=discord.AllowedMentions.none())
    assert not fake.post_archived(thread.id), "a message reopens an archived thread"

    guild = fake.state.guilds[fake.guild_id]
    bot_role = next(r for r in guild.roles.values() if r.bot_id == fake.bot_user_id)
    saved, bot_role.permissions = bot_role.permissions, bot_role.permissions & ~(1 << 34)
    try:
        with pytest.raises(discord.Forbidden) as refused:
            await thread.edit(applied_tags=[tracked])
        assert refused.value.code == 50013
    finally:
        bot_role.permissions = saved
