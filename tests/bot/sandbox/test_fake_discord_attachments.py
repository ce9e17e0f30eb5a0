"""The fake Discord's attachments: message payloads as Discord sends them, bytes from its CDN."""

from __future__ import annotations

import aiohttp

from bot.sandbox.discord import FakeDiscord, FakeFile

MESSAGE_CONTENT = 1 << 15
GUILDS_AND_MESSAGES = (1 << 0) | (1 << 9)


async def _first_message_event(ws: aiohttp.ClientWebSocketResponse) -> dict[str, object]:
    while True:
        frame = await ws.receive_json()
        if frame.get("t") == "MESSAGE_CREATE":
            return dict(frame["d"])


async def test_posted_files_are_attachments_whose_urls_serve_the_bytes() -> None:
    log = bytes(range(256)) * 40
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        user = fake.add_user("poster")
        ws = await session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json")
        await ws.receive_json()
        intents = GUILDS_AND_MESSAGES | MESSAGE_CONTENT
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": intents}})
        await fake.wait_for_sessions(1)
        files = [
            FakeFile("crash.log", log),
            FakeFile("shot.png", b"\x89PNG\r\n", content_type="image/png", declared_size=3),
        ]
        posted = await fake.post_message(fake.feedback_channel_id, user, "see logs", files=files)
        event = await _first_message_event(ws)
        await ws.close()

        assert event["attachments"] == posted["attachments"]
        first, second = posted["attachments"]
        assert set(first) == {"id", "filename", "size", "url", "proxy_url", "content_type"}
        assert (first["filename"], first["size"], first["content_type"]) == (
            "crash.log",
            len(log),
            "text/plain; charset=utf-8",
        )
        assert (second["size"], second["content_type"]) == (3, "image/png")
        assert first["url"].startswith(f"{fake.url}/attachments/{fake.feedback_channel_id}/")
        async with session.get(first["url"]) as response:
            assert response.status == 200 and await response.read() == log
        async with session.get(second["proxy_url"]) as response:
            assert await response.read() == b"\x89PNG\r\n"
        async with session.get(f"{fake.url}/attachments/1/2/nothing.txt") as response:
            assert response.status == 404


async def test_without_the_intent_attachments_are_hidden_like_the_content() -> None:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as session:
        user = fake.add_user("poster")
        ws = await session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json")
        await ws.receive_json()
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": GUILDS_AND_MESSAGES}})
        await fake.wait_for_sessions(1)
        await fake.post_message(
            fake.feedback_channel_id, user, "plain", files=[FakeFile("a.txt", b"x")]
        )
        plain = await _first_message_event(ws)
        await fake.post_message(
            fake.feedback_channel_id,
            user,
            f"{fake.bot_user.mention} look",
            files=[FakeFile("b.txt", b"y")],
        )
        mentioned = await _first_message_event(ws)
        await ws.close()
        assert plain["content"] == "" and plain["attachments"] == []
        assert [a["filename"] for a in mentioned["attachments"]] == ["b.txt"]  # type: ignore[attr-defined]
