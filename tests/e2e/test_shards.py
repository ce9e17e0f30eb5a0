"""Two bot processes, one shard each, sharing one PostgreSQL database: no item handled twice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TypeVar

import pytest

from bot.sandbox.discord import FakeDiscord, FakeUser
from bot.sandbox.discord._payloads import MAINTAINER_PERMISSIONS
from bot.sandbox.fake_github import FakeGitHub
from bot.sandbox.process import BotProcess
from bot.sandbox.stack import SANDBOX_REPO, sandbox_env
from storage.db import Database, upgrade
from storage.guild_config import GuildConfigRepository
from storage.items import ItemRepository
from storage.models import FeedbackItem, FeedbackItemBase, ItemStatus
from tests.conftest import create_pg_database, drop_pg_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

T = TypeVar("T")

SHARD_COUNT = 2
WAIT = 90.0


@dataclass
class ShardedGuild:
    """A guild, the channels the bot reads and writes there, and the shard that owns it."""

    guild_id: int
    feedback_channel_id: int
    review_channel_id: int
    reporter: FakeUser

    @property
    def shard(self) -> int:
        """Discord's shard formula: `(guild_id >> 22) % shard_count`."""
        return (self.guild_id >> 22) % SHARD_COUNT


@dataclass
class ShardedDeployment:
    """One fake Discord with a guild per shard, one database and a bot process per shard."""

    discord: FakeDiscord
    items: ItemRepository
    guilds: dict[int, ShardedGuild]
    processes: dict[int, BotProcess]

    async def item_of(self, message_id: int) -> FeedbackItem:
        return await self._poll(
            lambda: self.items.get_by_source(f"message:{message_id}"), f"item of {message_id}"
        )

    async def settled(self, item_id: int) -> FeedbackItem:
        async def check() -> FeedbackItem | None:
            item = await self.items.get(item_id)
            ready = item is not None and item.review_message_id is not None
            return item if ready and item.status == ItemStatus.AWAITING_REVIEW else None

        return await self._poll(check, f"item {item_id} to await review")

    async def _poll(self, check: Callable[[], Awaitable[T | None]], what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while (found := await check()) is None:
            crashed = [
                p.log_text(max_chars=4000)
                for p in self.processes.values()
                if p.returncode not in (None, 0)
            ]
            assert not crashed, f"a bot process crashed while waiting for {what}:\n{crashed[0]}"
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.1)
        return found

    def review_messages_in(self, guild: ShardedGuild, item_id: int) -> list[int]:
        marker = f"Item #{item_id} ·"
        return [
            m.id
            for m in self.discord.messages_in(guild.review_channel_id)
            if any(marker in str((e.get("footer") or {}).get("text", "")) for e in m.embeds)
        ]

    def handled_by(self, item_id: int) -> list[int]:
        """Shards whose process logged posting the review message of `item_id`."""
        pattern = re.compile(rf"posted review message \d+ for item {item_id}\b")
        return [s for s, p in self.processes.items() if pattern.search(p.log_text(max_chars=10**7))]

    async def wait_handled_by(self, item_id: int) -> list[int]:
        """`handled_by` once some process logged it (the line follows the database write)."""

        async def check() -> list[int] | None:
            return self.handled_by(item_id) or None

        return await self._poll(check, f"a process to log the review of item {item_id}")


def _add_guild(discord: FakeDiscord, shard: int) -> ShardedGuild:
    guild = discord.add_guild(
        guild_id=discord.snowflake_for_shard(shard, SHARD_COUNT), name=f"Guild {shard}"
    )
    discord.add_role("Maintainer", permissions=MAINTAINER_PERMISSIONS, guild_id=guild.id)
    return ShardedGuild(
        guild_id=guild.id,
        feedback_channel_id=int(discord.add_text_channel("feedback", guild_id=guild.id)["id"]),
        review_channel_id=int(discord.add_text_channel("review", guild_id=guild.id)["id"]),
        reporter=discord.add_user(f"reporter-{shard}", guild_id=guild.id),
    )


@pytest.fixture(scope="module")
async def sharded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ShardedDeployment]:
    """Two `python -m bot` processes (SHARD_IDS=0 and 1 of 2), each with its own DATA_DIR.

    Both use PostgreSQL for items and checkpoints; each embeds its own chromadb under its
    DATA_DIR (a deployment shares one through CHROMA_URL, see docs/SCALING.md).
    """
    tmp_path = tmp_path_factory.mktemp("shards")
    async with AsyncExitStack() as stack:
        discord = await stack.enter_async_context(FakeDiscord())
        github = await stack.enter_async_context(FakeGitHub(repos=(SANDBOX_REPO,)))
        guilds = {shard: _add_guild(discord, shard) for shard in range(SHARD_COUNT)}
        database_url = await create_pg_database()
        stack.push_async_callback(drop_pg_database, database_url)
        await upgrade(database_url)
        db = Database(database_url, pool_size=2)
        stack.push_async_callback(db.close)
        configs = GuildConfigRepository(db)
        for guild in guilds.values():
            role = discord.state.guilds[guild.guild_id].role_named("Maintainer")
            assert role is not None
            await configs.update(
                guild_id=guild.guild_id,
                changes={
                    "feedback_channel_ids": [guild.feedback_channel_id],
                    "review_channel_id": guild.review_channel_id,
                    "maintainer_role_ids": [role.id],
                },
                actor="test",
            )
        processes: dict[int, BotProcess] = {}
        home = ",".join(str(g) for g in (discord.guild_id, *(g.guild_id for g in guilds.values())))
        for shard in range(SHARD_COUNT):
            env = sandbox_env(
                discord=discord,
                github=github,
                data_dir=tmp_path / f"data-{shard}",
                database_url=database_url,
                extra_env={
                    "SHARD_COUNT": str(SHARD_COUNT),
                    "SHARD_IDS": str(shard),
                    "ALLOWED_GUILD_IDS": home,
                },
            )
            process = BotProcess(
                env,
                discord=discord,
                log_path=tmp_path / f"bot-{shard}.log",
                workdir=tmp_path / f"cwd-{shard}",
            )
            stack.push_async_callback(process.stop)
            await process.start()
            processes[shard] = process
        yield ShardedDeployment(discord, ItemRepository(db), guilds, processes)


async def test_each_guild_is_handled_once_by_the_process_owning_its_shard(
    sharded: ShardedDeployment,
) -> None:
    identified = {(i["shard"][0], i["shard"][1]) for i in sharded.discord.hub.identifies}
    assert identified == {(0, SHARD_COUNT), (1, SHARD_COUNT)}
    posted = {}
    for shard, guild in sharded.guilds.items():
        message = await sharded.discord.post_message(
            guild.feedback_channel_id,
            guild.reporter,
            f"Shard {shard}: the export button crashes the app when the list is empty.",
        )
        posted[shard] = int(message["id"])

    for shard, guild in sharded.guilds.items():
        received = await sharded.item_of(posted[shard])
        assert received.id is not None and received.guild_id == guild.guild_id
        item = await sharded.settled(received.id)
        assert item.review_channel_id == guild.review_channel_id
        assert sharded.review_messages_in(guild, received.id) == [item.review_message_id]
        other = sharded.guilds[1 - shard]
        assert sharded.review_messages_in(other, received.id) == []
        assert await sharded.wait_handled_by(received.id) == [guild.shard]
    everything = await sharded.items.list_by_status(list(ItemStatus))
    assert sorted(i.source_key for i in everything) == sorted(
        f"message:{m}" for m in posted.values()
    )


async def test_a_restart_never_hands_an_item_to_the_other_shard(
    sharded: ShardedDeployment,
) -> None:
    down, up = sharded.guilds[0], sharded.guilds[1]
    await sharded.processes[down.shard].terminate()
    stranded, created = await sharded.items.create(
        item=FeedbackItemBase(
            source_kind="channel",
            source_key="message:424242",
            guild_id=down.guild_id,
            channel_id=down.feedback_channel_id,
            message_id=424242,
            author_id=down.reporter.id,
            author_name=down.reporter.name,
            raw_text="Shard 0 went down: notifications arrive twice on Android 14.",
        ),
        actor="test",
    )
    assert created and stranded.id is not None

    await sharded.processes[up.shard].terminate()
    await sharded.processes[up.shard].start()
    message = await sharded.discord.post_message(
        up.feedback_channel_id, up.reporter, "Shard 1 is up: search ignores accented letters."
    )
    fresh = await sharded.item_of(int(message["id"]))
    assert fresh.id is not None
    await sharded.settled(fresh.id)
    still = await sharded.items.get(stranded.id)
    assert still is not None and still.status == ItemStatus.RECEIVED
    assert sharded.review_messages_in(down, stranded.id) == []
    assert sharded.handled_by(stranded.id) == []

    await sharded.processes[down.shard].start()
    resumed = await sharded.settled(stranded.id)
    assert sharded.review_messages_in(down, stranded.id) == [resumed.review_message_id]
    assert await sharded.wait_handled_by(stranded.id) == [down.shard]
