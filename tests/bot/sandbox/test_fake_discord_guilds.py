"""The fake Discord's guild membership, leaving and joining, and the Message Content switch."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.sandbox.fake_discord import FakeDiscord

MESSAGE_CONTENT = 1 << 15
GUILDS_AND_MESSAGES = (1 << 0) | (1 << 9)


async def _identify(session: aiohttp.ClientSession, fake: FakeDiscord, intents: int) -> Any:
    ws = await session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json")
    assert (await ws.receive_json())["op"] == 10
    await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": intents}})
    return ws


async def _rest(
    session: aiohttp.ClientSession, fake: FakeDiscord, method: str, path: str
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with session.request(method, fake.api_base + path, headers=headers) as response:
        body = await response.json() if response.status != 204 else None
        return response.status, body


async def test_message_content_intent_off_closes_the_gateway_with_4014() -> None:
    async with (
        FakeDiscord(message_content_intent=False) as fake,
        aiohttp.ClientSession() as session,
    ):
        ws = await _identify(session, fake, GUILDS_AND_MESSAGES | MESSAGE_CONTENT)
        await ws.receive()
        assert ws.close_code == 4014
        await ws.close()
        assert fake.hub.identifies == [] and len(fake.hub.refused_identifies) == 1
        status, app = await _rest(session, fake, "GET", "/applications/@me")
        assert status == 200 and app["flags"] & (3 << 18) == 0

        ws = await _identify(session, fake, GUILDS_AND_MESSAGES)
        ready = await ws.receive_json()
        assert ready["t"] == "READY" and ready["d"]["application"]["flags"] & (3 << 18) == 0
        await ws.close()


async def test_message_content_intent_on_is_reported_by_the_application() -> None:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        status, app = await _rest(session, fake, "GET", "/applications/@me")
        assert status == 200 and app["flags"] & (1 << 19)
        ws = await _identify(session, fake, GUILDS_AND_MESSAGES | MESSAGE_CONTENT)
        assert (await ws.receive_json())["t"] == "READY"
        await ws.close()


async def test_the_bot_lists_and_leaves_its_guilds() -> None:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        stranger = fake.add_outsider("stranger")
        other = fake.add_guild(name="Stranger's server", owner=stranger)
        assert other.owner_id == stranger.id and stranger.id in other.members
        status, guilds = await _rest(session, fake, "GET", "/users/@me/guilds")
        assert status == 200
        assert {(g["id"], g["name"]) for g in guilds} == {
            (str(fake.guild_id), "IterateSwarm Community"),
            (str(other.id), "Stranger's server"),
        }
        ws = await _identify(session, fake, GUILDS_AND_MESSAGES | MESSAGE_CONTENT)
        events = [(await ws.receive_json())["t"] for _ in range(3)]
        assert events == ["READY", "GUILD_CREATE", "GUILD_CREATE"]

        status, _ = await _rest(session, fake, "DELETE", f"/users/@me/guilds/{other.id}")
        assert status == 204 and fake.left_guilds == [other.id]
        deleted = await ws.receive_json()
        assert (deleted["t"], deleted["d"]) == ("GUILD_DELETE", {"id": str(other.id)})
        await fake.post_message(other.channel_ids[0], stranger, "nobody hears this")
        await fake.post_message(fake.feedback_channel_id, fake.owner, "but this")
        created = await ws.receive_json()
        assert created["t"] == "MESSAGE_CREATE" and created["d"]["content"] == "but this"
        status, guilds = await _rest(session, fake, "GET", "/users/@me/guilds")
        assert [g["id"] for g in guilds] == [str(fake.guild_id)]
        status, _ = await _rest(session, fake, "DELETE", f"/users/@me/guilds/{other.id}")
        assert status == 404

        joined = fake.add_guild(name="Joined later")
        await fake.announce_guild(joined.id)
        announced = await ws.receive_json()
        assert announced["t"] == "GUILD_CREATE" and announced["d"]["id"] == str(joined.id)
        await ws.close()
