"""Wire-level tests: the real discord.py client against the loopback fake Discord."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.sandbox.fake_discord import FakeDiscord, FakeUser

NO_PINGS = discord.AllowedMentions.none()


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the fake, restoring them after."""
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway


async def eventually(check: Callable[[], Any], seconds: float = 5.0) -> Any:
    """Poll `check` until it returns something truthy, failing after `seconds`."""
    for _ in range(int(seconds / 0.01)):
        if result := check():
            return result
        await asyncio.sleep(0.01)
    raise AssertionError(f"condition still false after {seconds}s")


class PanelView(discord.ui.View):
    """Persistent view with one button answering ephemerally."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Status", custom_id="panel:status")
    async def status(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_message(
            f"status for {interaction.user.id}", ephemeral=True, allowed_mentions=NO_PINGS
        )


class VoteButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"vote:(?P<item>\d+)"):
    """Dynamic button whose state lives in its custom_id."""

    def __init__(self, item_id: int) -> None:
        super().__init__(discord.ui.Button(label="Vote", custom_id=f"vote:{item_id}"))
        self.item_id = item_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> VoteButton:
        return cls(int(match["item"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        roles = [r.name for r in getattr(interaction.user, "roles", [])]
        voter = "maintainer" if "Maintainer" in roles else "user"
        await interaction.response.edit_message(
            content=f"voted on {self.item_id} by {voter}",
            view=None,
            allowed_mentions=NO_PINGS,
        )


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    """Modal with classic text inputs (sent as action rows)."""

    summary: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Summary", custom_id="feedback:summary"
    )
    details: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Details", custom_id="feedback:details", style=discord.TextStyle.paragraph
    )

    def __init__(self) -> None:
        super().__init__(custom_id="feedback:modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            f"{self.summary.value}|{self.details.value}", ephemeral=True, allowed_mentions=NO_PINGS
        )


class SeverityModal(discord.ui.Modal, title="Severity"):
    """Modal using the newer label component."""

    severity: discord.ui.Label[Any] = discord.ui.Label(
        text="Severity", component=discord.ui.TextInput(custom_id="severity:value")
    )

    def __init__(self) -> None:
        super().__init__(custom_id="severity:modal")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        text_input = self.severity.component
        assert isinstance(text_input, discord.ui.TextInput)
        await interaction.response.send_message(
            f"severity={text_input.value}", allowed_mentions=NO_PINGS
        )


class SandboxBot(commands.AutoShardedBot):
    """A small bot exercising every surface of the fake."""

    def __init__(self, fake: FakeDiscord, **options: Any) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        intents.members = True
        super().__init__(
            command_prefix="!",
            intents=intents,
            guild_ready_timeout=0.05,
            allowed_mentions=NO_PINGS,
            **options,
        )
        self.fake = fake
        self.seen: list[discord.Message] = []
        self.reactions: list[discord.RawReactionActionEvent] = []

    async def setup_hook(self) -> None:
        self.add_view(PanelView())
        self.add_dynamic_items(VoteButton)
        guild = discord.Object(self.fake.guild_id)
        self.tree.add_command(echo, guild=guild)
        self.tree.add_command(feedback, guild=guild)
        self.tree.add_command(severity, guild=guild)
        self.tree.add_command(slow)
        self.tree.add_command(triage_menu, guild=guild)
        if self.shard_ids is None:
            await self.tree.sync(guild=guild)
            await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Re-identify at once instead of discord.py's 5 s pause."""

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        self.seen.append(message)
        content = message.content
        if content == "hello":
            await message.reply("hi there", mention_author=False)
        elif content == "edit me":
            draft = await message.channel.send("draft")
            await draft.edit(content="final")
        elif content == "dm me":
            await message.author.send("private note")
        elif content == "panel":
            await message.channel.send("panel", view=PanelView())
        elif content.startswith("vote "):
            view = discord.ui.View(timeout=None)
            view.add_item(VoteButton(int(content.split()[1])))
            await message.channel.send("cast your vote", view=view)
        elif content == "thread":
            thread = await message.create_thread(name="discussion")
            await thread.send("thread opened")
        elif content == "file":
            report = discord.File(io.BytesIO(b"id,title\n1,crash\n"), filename="report.csv")
            await message.channel.send("export", file=report)
        elif content == "ping them":
            await message.channel.send(
                f"{message.author.mention} look", allowed_mentions=discord.AllowedMentions.all()
            )

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.user_id == self.fake.bot_user_id:
            return
        self.reactions.append(payload)
        channel = self.get_channel(payload.channel_id)
        assert isinstance(channel, discord.TextChannel)
        await channel.get_partial_message(payload.message_id).add_reaction("👀")


@app_commands.command(name="echo", description="Repeat text")
async def echo(interaction: discord.Interaction, text: str, times: int = 1) -> None:
    await interaction.response.send_message(" ".join([text] * times), allowed_mentions=NO_PINGS)


@app_commands.command(name="feedback", description="Open the feedback form")
async def feedback(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(FeedbackModal())


@app_commands.command(name="severity", description="Open the severity form")
async def severity(interaction: discord.Interaction) -> None:
    await interaction.response.send_modal(SeverityModal())


@app_commands.command(name="slow", description="Defer, then follow up")
async def slow(interaction: discord.Interaction) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(content="done thinking", allowed_mentions=NO_PINGS)
    await interaction.followup.send("and one more", ephemeral=True, allowed_mentions=NO_PINGS)


@app_commands.context_menu(name="Triage")
async def triage_menu(interaction: discord.Interaction, message: discord.Message) -> None:
    await interaction.response.send_message(
        f"triaging: {message.content}", ephemeral=True, allowed_mentions=NO_PINGS
    )


@contextlib.asynccontextmanager
async def running(bot: SandboxBot, token: str) -> AsyncIterator[SandboxBot]:
    """Run the bot until the block ends, then close it and check nothing is left running."""
    task = asyncio.create_task(bot.start(token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)
        await asyncio.sleep(0)
        leftovers = [
            t
            for t in asyncio.all_tasks()
            if not t.done() and "discord" in repr(t.get_coro()) and t is not task
        ]
        assert not leftovers, leftovers


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture(scope="module")
async def bot(fake: FakeDiscord) -> AsyncIterator[SandboxBot]:
    with pointed_at(fake):
        async with running(SandboxBot(fake), fake.token) as client:
            yield client


@pytest.fixture(scope="module")
def maintainer(fake: FakeDiscord) -> FakeUser:
    return fake.add_user("mia", roles=("Maintainer",))


@pytest.fixture(scope="module")
def member(fake: FakeDiscord) -> FakeUser:
    return fake.add_user("sam")


async def test_ready_caches_the_guild_with_channels_roles_and_members(
    fake: FakeDiscord, bot: SandboxBot
) -> None:
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and not guild.unavailable
    assert guild.get_channel(fake.feedback_channel_id).name == "feedback"  # type: ignore[union-attr]
    assert guild.get_channel(fake.review_channel_id) is not None
    assert guild.get_role(fake.maintainer_role_id).name == "Maintainer"  # type: ignore[union-attr]
    assert guild.me is not None and guild.me.id == fake.bot_user_id
    assert bot.user is not None and bot.user.id == fake.bot_user_id
    assert bot.application_id == fake.application_id
    identify = fake.hub.identifies[0]
    assert identify["intents"] & discord.Intents(message_content=True).value
    assert identify["token"] == "<redacted>"
    assert fake.requests_matching("GET", r"^/gateway/bot$")


async def test_on_message_gets_content_and_reply_lands_in_channel(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    posted = await fake.post_message(fake.feedback_channel_id, member, "hello")
    reply = await fake.wait_for_message(fake.feedback_channel_id, lambda m: m.content == "hi there")
    assert reply.author_id == fake.bot_user_id
    assert reply.payload["message_reference"]["message_id"] == posted["id"]
    seen = bot.seen[-1]
    assert (seen.content, seen.author.id, seen.guild.id) == ("hello", member.id, fake.guild_id)  # type: ignore[union-attr]
    check = fake.mention_checks[-1]
    assert check.allowed_mentions == {"parse": [], "replied_user": False}
    assert not check.pinged


async def test_persistent_view_button_answers_ephemerally(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    await fake.post_message(fake.feedback_channel_id, member, "panel")
    panel = await fake.wait_for_message(
        fake.feedback_channel_id, lambda m: m.content == "panel" and m.author_id != member.id
    )
    interaction = await fake.click_button(panel.id, "panel:status", member)
    response = await interaction.wait_response(timeout=5)
    assert response.type == 4
    assert response.ephemeral
    assert response.content == f"status for {member.id}"
    assert response.allowed_mentions == {"parse": []}
    assert fake.message(response.message_id or 0).ephemeral  # type: ignore[union-attr]
    public = [m.id for m in fake.messages_in(fake.feedback_channel_id)]
    assert response.message_id not in public


async def test_dynamic_item_click_edits_the_message_with_member_roles(
    fake: FakeDiscord, bot: SandboxBot, maintainer: FakeUser
) -> None:
    await fake.post_message(fake.feedback_channel_id, maintainer, "vote 42")
    ballot = await fake.wait_for_message(
        fake.feedback_channel_id, lambda m: m.content == "cast your vote"
    )
    assert ballot.custom_ids() == ["vote:42"]
    interaction = await fake.click_button(ballot.id, "vote:42", maintainer)
    response = await interaction.wait_response()
    assert response.type == 7
    edited = fake.message(ballot.id)
    assert edited is not None and edited.content == "voted on 42 by maintainer"
    assert edited.components == []
    assert edited.history[0]["content"] == "cast your vote"


@pytest.mark.parametrize(
    ("command", "fields", "expected", "layout"),
    [
        (
            "feedback",
            {"feedback:summary": "Crash", "feedback:details": "on start"},
            "Crash|on start",
            1,
        ),
        ("severity", {"severity:value": "high"}, "severity=high", 18),
    ],
)
async def test_modal_round_trips_submitted_values(
    *,
    fake: FakeDiscord,
    bot: SandboxBot,
    member: FakeUser,
    command: str,
    fields: dict[str, str],
    expected: str,
    layout: int,
) -> None:
    opener = await fake.slash_command(command, {}, member, fake.feedback_channel_id)
    modal = await opener.wait_response()
    assert modal.type == 9
    assert [row["type"] for row in modal.components] == [layout] * len(fields)
    modal_id = modal.custom_id
    assert modal_id is not None
    submitted = await fake.submit_modal(modal_id, fields, member)
    assert submitted.payload["data"]["components"][0]["type"] == layout
    answer = await submitted.wait_response()
    assert answer.content == expected


async def test_slash_commands_are_synced_and_invoked_with_options(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    names = {(c["name"], c.get("guild_id")) for c in fake.registered_commands}
    guild = str(fake.guild_id)
    assert {("echo", guild), ("feedback", guild), ("Triage", guild), ("slow", None)} <= names
    interaction = await fake.slash_command("echo", {"text": "hey", "times": 2}, member)
    response = await interaction.wait_response()
    assert (response.type, response.content) == (4, "hey hey")
    stored = fake.message(response.message_id or 0)
    assert stored is not None and stored.payload["interaction_metadata"]["user"]["id"] == str(
        member.id
    )
    with pytest.raises(ValueError, match="needs options"):
        await fake.slash_command("echo", {}, member)


async def test_deferred_response_then_edit_and_followup(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    interaction = await fake.slash_command("slow", None, member)
    deferred = await interaction.wait_response()
    assert deferred.type == 5
    followup = await interaction.wait_for(lambda r: r.kind == "followup")
    assert followup.ephemeral and followup.content == "and one more"
    assert [e.kind for e in interaction.edits] == ["edit_original"]
    original = fake.message(interaction.original_message_id or 0)
    assert original is not None and original.content == "done thinking"


async def test_message_context_menu_receives_the_target(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser, maintainer: FakeUser
) -> None:
    target = await fake.post_message(fake.feedback_channel_id, member, "the app is slow")
    interaction = await fake.context_menu("Triage", int(target["id"]), maintainer)
    response = await interaction.wait_response()
    assert response.content == "triaging: the app is slow"
    assert response.ephemeral


async def test_reaction_add_event_carries_member_roles(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser, maintainer: FakeUser
) -> None:
    posted = await fake.post_message(fake.feedback_channel_id, member, "please triage")
    await fake.add_reaction(fake.feedback_channel_id, int(posted["id"]), maintainer, "📝")
    await fake.wait_for_reaction(int(posted["id"]), "👀")
    event = bot.reactions[-1]
    assert (event.user_id, str(event.emoji)) == (maintainer.id, "📝")
    assert event.member is not None
    assert fake.maintainer_role_id in [r.id for r in event.member.roles]
    assert fake.reactions_on(int(posted["id"])) == {
        "📝": [maintainer.id],
        "👀": [fake.bot_user_id],
    }


async def test_dm_and_message_edit_and_thread(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    await fake.post_message(fake.feedback_channel_id, member, "dm me")
    await fake.state.signal.wait_for(lambda: fake.dms_to(member.id) or None, 5, "a DM")
    assert [m.content for m in fake.dms_to(member.id)] == ["private note"]

    await fake.post_message(fake.feedback_channel_id, member, "edit me")
    edited = await fake.wait_for_message(fake.feedback_channel_id, lambda m: m.content == "final")
    assert [h["content"] for h in edited.history] == ["draft"]
    assert edited.payload["edited_timestamp"] is not None

    starter = await fake.post_message(fake.feedback_channel_id, member, "thread")
    note = await fake.wait_for_message(int(starter["id"]), lambda m: m.content == "thread opened")
    assert [t["name"] for t in fake.threads_in(fake.feedback_channel_id)] == ["discussion"]
    assert note.channel_id == int(starter["id"])


async def test_pinging_message_is_caught(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    before = len(fake.pings)
    await fake.post_message(fake.feedback_channel_id, member, "ping them")
    await fake.wait_for_message(fake.feedback_channel_id, lambda m: m.content.endswith("look"))
    assert [p.pings for p in fake.pings[before:]] == [[f"user {member.id}"]]
    with pytest.raises(AssertionError, match="would have pinged"):
        fake.assert_never_pinged()
    fake.clear_records()
    fake.assert_never_pinged()


async def test_scripted_rate_limit_storm_is_retried(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    earlier = {m.id for m in fake.messages_in(fake.feedback_channel_id)}
    rule = fake.inject_failure("POST", r"/channels/\d+/messages$", count=2, retry_after=0.05)
    await fake.post_message(fake.feedback_channel_id, member, "hello")
    await fake.wait_for_message(
        fake.feedback_channel_id, lambda m: m.content == "hi there" and m.id not in earlier
    )
    assert rule.hits == 2
    statuses = [r.status for r in fake.requests_matching("POST", r"/messages$")][-3:]
    assert statuses == [429, 429, 200]


async def test_unknown_routes_and_double_acks_are_rejected(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    with pytest.raises(discord.NotFound):
        await bot.http.request(Route("GET", "/stage-instances/1"))
    assert fake.unknown_routes[-1].path == "/stage-instances/1"

    interaction = await fake.slash_command("echo", {"text": "once"}, member)
    await interaction.wait_response()
    url = f"{fake.api_base}/interactions/{interaction.id}/{interaction.token}/callback"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"type": 4, "data": {"content": "twice"}}) as reply:
            assert reply.status == 400
            assert reply.headers["Content-Type"] == "application/json"
            assert (await reply.json())["code"] == 40060
        async with session.get(f"{fake.api_base}/users/@me") as reply:
            assert reply.status == 401
        headers = {"Authorization": f"Bot {fake.token}"}
        async with session.get(f"{fake.api_base}/users/@me", headers=headers) as reply:
            assert reply.status == 200
            assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Bucket"} <= set(
                reply.headers
            )


async def test_file_upload_becomes_an_attachment(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    await fake.post_message(fake.feedback_channel_id, member, "file")
    export = await fake.wait_for_message(fake.feedback_channel_id, lambda m: m.content == "export")
    attachment = export.payload["attachments"][0]
    assert (attachment["filename"], attachment["size"]) == ("report.csv", 17)
    assert fake.requests_matching("POST", r"/messages$")[-1].files == ["report.csv"]


async def test_gateway_resume_and_reidentify_keep_events_flowing(
    fake: FakeDiscord, bot: SandboxBot, member: FakeUser
) -> None:
    session = fake.sessions[0]
    await fake.force_reconnect()
    await eventually(lambda: session.resumes == 1 and fake.sessions)
    await fake.post_message(fake.feedback_channel_id, member, "after resume")
    await eventually(lambda: bot.seen[-1].content == "after resume")

    identifies = len(fake.hub.identifies)
    await fake.invalidate_sessions()
    await eventually(lambda: len(fake.hub.identifies) == identifies + 1 and fake.sessions)
    await fake.wait_for_sessions(1)
    await fake.post_message(fake.feedback_channel_id, member, "after identify")
    await eventually(lambda: bot.seen[-1].content == "after identify")


async def test_shards_only_receive_their_own_guilds() -> None:
    async with FakeDiscord() as fake:
        guilds = [
            fake.add_guild(guild_id=fake.snowflake_for_shard(shard, 2), name=f"g{shard}")
            for shard in (0, 1)
        ]
        writer = fake.add_user("writer", guild_id=guilds[0].id)
        guilds[1].members[writer.id] = []
        with pointed_at(fake):
            bots = [SandboxBot(fake, shard_ids=[shard], shard_count=2) for shard in (0, 1)]
            async with running(bots[0], fake.token), running(bots[1], fake.token):
                for guild in guilds:
                    await fake.post_message(guild.channel_ids[0], writer, f"in {guild.name}")
                await eventually(lambda: all(b.seen for b in bots))
                await asyncio.sleep(0.1)
                for shard, client in enumerate(bots):
                    own = {g.id for g in client.guilds}
                    assert guilds[shard].id in own and guilds[1 - shard].id not in own
                    assert [m.content for m in client.seen] == [f"in g{shard}"]
        shards = sorted(tuple(i["shard"]) for i in fake.hub.identifies)
        assert shards == [(0, 2), (1, 2)]


async def test_raw_gateway_checks_token_and_withholds_content_without_intent() -> None:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        url = f"{fake.gateway_url}?v=10&encoding=json&compress=zlib-stream"
        async with session.ws_connect(url) as ws:
            assert (await ws.receive_json())["op"] == 10
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 513}})
            await ws.receive()
            assert ws.close_code == 4004
        async with session.ws_connect(url) as ws:
            assert (await ws.receive_json())["op"] == 10
            await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 513}})
            events = [(await ws.receive_json())["t"] for _ in range(2)]
            assert events == ["READY", "GUILD_CREATE"]
            author = fake.add_user("quiet")
            await fake.post_message(fake.feedback_channel_id, author, "secret text")
            created = await ws.receive_json()
            assert created["t"] == "MESSAGE_CREATE" and created["d"]["content"] == ""
            assert fake.messages_in(fake.feedback_channel_id)[-1].content == "secret text"
