"""Gateway WebSocket of the fake Discord: HELLO, IDENTIFY, READY, RESUME and sharded dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.discord._models import Payload, shard_of
from bot.sandbox.discord._payloads import guild_create_payload, member_payload
from bot.sandbox.discord._state import DiscordState

logger = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 0, 1, 2, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 8, 9, 10, 11

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15

GUILD_INTENT = {
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GUILD_MESSAGE_REACTIONS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "THREAD_CREATE": GUILDS,
    "THREAD_UPDATE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "GUILD_CREATE": GUILDS,
    "GUILD_DELETE": GUILDS,
}
DM_INTENT = {
    "MESSAGE_CREATE": DIRECT_MESSAGES,
    "MESSAGE_UPDATE": DIRECT_MESSAGES,
    "MESSAGE_DELETE": DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": DIRECT_MESSAGE_REACTIONS,
}
RESUME_BUFFER = 2000
#: Close code when IDENTIFY asks for a privileged intent the application may not use.
DISALLOWED_INTENTS = 4014


@dataclass
class GatewaySession:
    """One identified gateway session; survives a dropped socket until resumed or invalidated."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    identify: Payload
    ws: web.WebSocketResponse | None = None
    seq: int = 0
    sent: list[tuple[int, str]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    resumes: int = 0

    def owns(self, guild_id: int | None) -> bool:
        """Whether events of `guild_id` go to this shard (DM events go to shard 0)."""
        if guild_id is None:
            return self.shard_id == 0
        return shard_of(guild_id, self.shard_count) == self.shard_id


class GatewayHub:
    """Accepts gateway connections and fans events out to the sessions whose shard owns them."""

    def __init__(
        self,
        state: DiscordState,
        *,
        token: str,
        heartbeat_interval_ms: int,
        gateway_url: Callable[[], str],
    ) -> None:
        self.state = state
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.gateway_url = gateway_url
        self.sessions: dict[str, GatewaySession] = {}
        self.identifies: list[Payload] = []
        self.refused_identifies: list[Payload] = []
        self.received: list[Payload] = []
        self._sockets: set[web.WebSocketResponse] = set()

    def live_sessions(self) -> list[GatewaySession]:
        """Sessions with an open socket."""
        return [s for s in self.sessions.values() if s.ws is not None and not s.ws.closed]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for the gateway WebSocket."""
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        self._sockets.add(ws)
        session: GatewaySession | None = None
        try:
            await ws.send_str(
                json.dumps(
                    {
                        "op": HELLO,
                        "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                        "s": None,
                        "t": None,
                    }
                )
            )
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    if message.type is WSMsgType.BINARY:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                    continue
                try:
                    frame = json.loads(message.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                session = await self._on_frame(ws, frame, session)
        finally:
            self._sockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
                if ws.close_code in (1000, 1001):
                    self.sessions.pop(session.session_id, None)
            self.state.changed()
        return ws

    async def _on_frame(
        self, ws: web.WebSocketResponse, frame: Payload, session: GatewaySession | None
    ) -> GatewaySession | None:
        op = frame.get("op")
        data = frame.get("d")
        self.received.append({"op": op, "d": _without_token(data)})
        if op == HEARTBEAT:
            await ws.send_str(json.dumps({"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None}))
        elif op == IDENTIFY and isinstance(data, dict):
            if data.get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
                return session
            if int(data.get("intents") or 0) & MESSAGE_CONTENT and not (
                self.state.message_content_intent
            ):
                self.refused_identifies.append(_without_token(data))
                await ws.close(code=DISALLOWED_INTENTS, message=b"Disallowed intent(s).")
                return session
            return await self._identify(ws, data)
        elif op == RESUME and isinstance(data, dict):
            return await self._resume(ws, data)
        elif op == REQUEST_MEMBERS and session is not None and isinstance(data, dict):
            await self._send_member_chunk(session, data)
        return session

    async def _identify(self, ws: web.WebSocketResponse, data: Payload) -> GatewaySession:
        shard = data.get("shard") or [0, 1]
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            shard_id=int(shard[0]),
            shard_count=int(shard[1]),
            intents=int(data.get("intents") or 0),
            identify=_without_token(data),
            ws=ws,
        )
        self.identifies.append(session.identify)
        self.sessions[session.session_id] = session
        owned = [g for g in self.state.bot_guilds() if session.owns(g.id)]
        bot = self.state.bot_user.payload() | {"verified": True, "mfa_enabled": False}
        ready = {
            "v": 10,
            "user": bot,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in owned],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url(),
            "shard": [session.shard_id, session.shard_count],
            "application": {
                "id": str(self.state.application_id),
                "flags": self.state.application_flags,
            },
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "guild_join_requests": [],
            "_trace": ["fake-discord"],
        }
        await self._send_dispatch(session, "READY", ready)
        for guild in owned:
            channels = self.state.guild_channels(guild)
            payload = guild_create_payload(guild, channels, self.state.users)
            await self._send_dispatch(session, "GUILD_CREATE", payload)
        self.state.changed()
        logger.debug("shard %s/%s identified", session.shard_id, session.shard_count)
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: Payload) -> GatewaySession | None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await ws.send_str(json.dumps({"op": INVALID_SESSION, "d": False, "s": None, "t": None}))
            return None
        previous = session.ws
        session.ws = ws
        session.resumes += 1
        if previous is not None and previous is not ws and not previous.closed:
            await previous.close(code=4000)
        last_seen = int(data.get("seq") or 0)
        async with session.lock:
            for seq, text in session.sent:
                if seq > last_seen:
                    await ws.send_str(text)
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-discord"]})
        self.state.changed()
        return session

    async def _send_member_chunk(self, session: GatewaySession, data: Payload) -> None:
        guild = self.state.guilds.get(int(data.get("guild_id") or 0))
        if guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            member_payload(guild, self.state.users[uid])
            for uid in guild.members
            if uid in self.state.users
            and (not wanted or uid in wanted)
            and self.state.users[uid].name.lower().startswith(query)
        ]
        chunk: Payload = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send_dispatch(self, session: GatewaySession, event: str, data: Payload) -> None:
        async with session.lock:
            session.seq += 1
            text = json.dumps({"op": DISPATCH, "t": event, "s": session.seq, "d": data})
            session.sent.append((session.seq, text))
            del session.sent[:-RESUME_BUFFER]
            ws = session.ws
            if ws is not None and not ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(text)

    async def dispatch(self, event: str, data: Payload, *, guild_id: int | None = None) -> int:
        """Send a DISPATCH event to every session whose shard owns `guild_id`.

        Events for a disconnected but resumable session are buffered and replayed on RESUME.

        Args:
            event: Event name, e.g. MESSAGE_CREATE.
            data: Event payload.
            guild_id: Guild the event belongs to; None for DMs (routed to shard 0).

        Returns:
            Number of sessions the event was queued for.
        """
        count = 0
        for session in list(self.sessions.values()):
            if not session.owns(guild_id) or not self._wants(session, event, guild_id):
                continue
            await self._send_dispatch(session, event, self._filtered(session, event, data))
            count += 1
        return count

    def _wants(self, session: GatewaySession, event: str, guild_id: int | None) -> bool:
        if event != "GUILD_DELETE" and not self.state.bot_is_in(guild_id):
            return False  # GUILD_DELETE is how a bot hears it is no longer in a guild
        needed = (GUILD_INTENT if guild_id is not None else DM_INTENT).get(event)
        return needed is None or bool(session.intents & needed)

    def _filtered(self, session: GatewaySession, event: str, data: Payload) -> Payload:
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & MESSAGE_CONTENT:
            return data
        bot_id = str(self.state.bot_user.id)
        author = data.get("author", {}).get("id")
        mentioned = any(m.get("id") == bot_id for m in data.get("mentions", []))
        if author == bot_id or mentioned or data.get("guild_id") is None:
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def send_op(self, op: int, data: Any) -> None:
        """Send a raw opcode frame (e.g. RECONNECT or INVALID_SESSION) to every live session."""
        frame = json.dumps({"op": op, "d": data, "s": None, "t": None})
        for session in self.live_sessions():
            assert session.ws is not None
            with contextlib.suppress(ConnectionError, RuntimeError):
                await session.ws.send_str(frame)

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every socket with `code`; sessions stay resumable."""
        for ws in list(self._sockets):
            await ws.close(code=code)

    async def close(self) -> None:
        """Close every socket as the server goes away."""
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"server shutdown")
        self.sessions.clear()


def _without_token(data: Any) -> Any:
    if isinstance(data, dict) and "token" in data:
        return {**data, "token": "<redacted>"}
    return data
