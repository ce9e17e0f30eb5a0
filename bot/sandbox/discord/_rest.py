"""REST API of the fake Discord: routing, auth, rate-limit headers, scripted failures, recording."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.sandbox.discord._attachments import AttachmentStore
from bot.sandbox.discord._gateway import GatewayHub
from bot.sandbox.discord._interaction_records import FakeInteraction
from bot.sandbox.discord._models import FakeUser, Payload, RecordedRequest, StoredMessage
from bot.sandbox.discord._state import DiscordState

logger = logging.getLogger(__name__)

API_PREFIX = re.compile(r"^/api/v(?P<version>\d+)(?P<path>/.*)$")
RATE_LIMIT = 50


@dataclass
class ApiCall:
    """A parsed REST request: path parameters, query, JSON body and uploaded files."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    files: list[tuple[str, int, str]] = field(default_factory=list)
    authorization: str | None = None
    file_data: list[bytes] = field(default_factory=list)

    def param_int(self, name: str) -> int:
        """A numeric path parameter."""
        return int(self.params[name])

    @property
    def json(self) -> Payload:
        """Body as a dict (empty when absent or not an object)."""
        return self.body if isinstance(self.body, dict) else {}


Handler = Callable[["RestApi", ApiCall], Awaitable[web.StreamResponse]]


@dataclass
class Route:
    """One REST route: method, path template and handler."""

    method: str
    template: str
    handler: Handler
    needs_auth: bool = True
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        self.pattern = re.compile(f"^{regex}/?$")


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON reply with Content-Type exactly `application/json`, as discord.py expects."""
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


def error(status: int, code: int, message: str) -> web.Response:
    """Discord-style JSON error."""
    return json_response({"message": message, "code": code}, status)


def no_content() -> web.Response:
    """Empty 204 reply."""
    return web.Response(status=204)


class RestApi:
    """Dispatches /api/v{n}/... requests to route handlers and records every call."""

    def __init__(
        self,
        state: DiscordState,
        hub: GatewayHub,
        *,
        token: str,
        public_url: Callable[[], str],
        routes: list[Route],
        attachments: AttachmentStore,
        recommended_shards: int = 1,
        interaction_deadline: float | None = None,
    ) -> None:
        self.state = state
        self.hub = hub
        self.token = token
        self.public_url = public_url
        self.routes = routes
        self.attachment_store = attachments
        self.recommended_shards = recommended_shards
        self.interaction_deadline = interaction_deadline

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp catch-all handler for the REST API."""
        raw_path = request.rel_url.raw_path
        match = API_PREFIX.match(raw_path)
        call = await self._parse(request, unquote(match["path"]) if match else raw_path)
        record = RecordedRequest(
            method=call.method,
            path=call.path,
            query=call.query,
            json=call.body,
            files=[name for name, _, _ in call.files],
        )
        self.state.requests.append(record)
        response = await self._respond(call, match["path"] if match else None)
        record.status = response.status
        if response.status == 404 and getattr(response, "_unknown_route", False):
            self.state.unknown_routes.append(record)
        self._add_rate_limit_headers(response, call)
        self.state.changed()
        return response

    async def _respond(self, call: ApiCall, raw_path: str | None) -> web.StreamResponse:
        if raw_path is None:
            return self._unknown(call)
        for route in self.routes:
            if route.method != call.method:
                continue
            found = route.pattern.match(raw_path)
            if found is None:
                continue
            call.params = {k: unquote(v) for k, v in found.groupdict().items()}
            failure = self._scripted_failure(call)
            if failure is not None:
                return failure
            if route.needs_auth and call.authorization != f"Bot {self.token}":
                return error(401, 0, "401: Unauthorized")
            try:
                response = await route.handler(self, call)
            except (KeyError, ValueError, TypeError) as exc:
                logger.debug("bad request %s %s: %r", call.method, call.path, exc)
                return error(400, 50035, f"Invalid Form Body: {exc!r}")
            lost = self._scripted_failure(call, after_effect=True)
            return response if lost is None else lost
        return self._unknown(call)

    def _unknown(self, call: ApiCall) -> web.Response:
        logger.warning("fake Discord has no route for %s %s", call.method, call.path)
        response = error(404, 0, "404: Not Found")
        response._unknown_route = True  # type: ignore[attr-defined]
        return response

    async def _parse(self, request: web.Request, path: str) -> ApiCall:
        body: Any = None
        files: list[tuple[str, int, str]] = []
        file_data: list[bytes] = []
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            for value in form.values():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files.append((value.filename, len(data), value.content_type))
                    file_data.append(data)
            if "payload_json" in form:
                body = json.loads(str(form["payload_json"]))
        elif request.can_read_body:
            text = await request.text()
            body = json.loads(text) if text.strip() else None
        return ApiCall(
            method=request.method,
            path=path,
            params={},
            query=dict(request.query),
            body=body,
            files=files,
            authorization=request.headers.get("Authorization"),
            file_data=file_data,
        )

    def _scripted_failure(
        self, call: ApiCall, *, after_effect: bool = False
    ) -> web.Response | None:
        for rule in self.state.failures:
            if rule.after_effect != after_effect or not rule.matches(call.method, call.path):
                continue
            rule.remaining -= 1
            rule.hits += 1
            if rule.status == 429:
                body = rule.body or {
                    "message": "You are being rate limited.",
                    "retry_after": rule.retry_after,
                    "global": rule.is_global,
                    "code": 0,
                }
                response = json_response(body, 429)
                response.headers["Via"] = "1.1 google"
                response.headers["Retry-After"] = str(max(1, round(rule.retry_after)))
                response.headers["X-RateLimit-Scope"] = "global" if rule.is_global else "user"
                if rule.is_global:
                    response.headers["X-RateLimit-Global"] = "true"
                return response
            body = rule.body or {"message": "scripted failure", "code": 0}
            return json_response(body, rule.status)
        return None

    def _add_rate_limit_headers(self, response: web.StreamResponse, call: ApiCall) -> None:
        if response.status == 429 or "X-RateLimit-Limit" in response.headers:
            return
        template = re.sub(r"\d{5,}", "{id}", call.path)
        bucket = hashlib.sha1(f"{call.method} {template}".encode()).hexdigest()[:16]
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining"] = str(RATE_LIMIT - 1)
        response.headers["X-RateLimit-Reset"] = f"{time.time() + 1:.3f}"
        response.headers["X-RateLimit-Reset-After"] = "1.000"
        response.headers["X-RateLimit-Bucket"] = bucket

    async def send_message(
        self,
        call: ApiCall,
        channel: Payload,
        body: Payload,
        *,
        author: FakeUser | None = None,
        interaction: FakeInteraction | None = None,
        message_type: int = 0,
        audit: bool = True,
    ) -> StoredMessage:
        """Create a message from a request body, audit its mentions and dispatch MESSAGE_CREATE."""
        replied_user_id = None
        reference = body.get("message_reference")
        if isinstance(reference, dict) and reference.get("message_id") is not None:
            referenced = self.state.messages.get(int(reference["message_id"]))
            replied_user_id = referenced.author_id if referenced else None
        if audit:
            self.state.record_mentions(
                call.method, call.path, body, replied_user_id=replied_user_id
            )
        body = {**body, "attachments": self.attachments(call, channel)}
        payload = self.state.build_message(
            channel,
            author or self.state.bot_user,
            body,
            message_type=message_type,
            interaction=interaction,
        )
        stored = self.state.store_message(
            payload, interaction_id=interaction.id if interaction else None
        )
        if not stored.ephemeral:
            guild_id = guild_id_of(channel)
            await self.hub.dispatch("MESSAGE_CREATE", stored.snapshot(), guild_id=guild_id)
        return stored

    async def edit_message(self, call: ApiCall, stored: StoredMessage, body: Payload) -> None:
        """Apply an edit, audit its mentions and dispatch MESSAGE_UPDATE."""
        if "content" in body:
            self.state.record_mentions(call.method, call.path, body)
        if call.files:
            home = self.state.channels.get(stored.channel_id, {"id": str(stored.channel_id)})
            body = {**body, "attachments": self.attachments(call, home)}
        self.state.edit_message(stored, body)
        if not stored.ephemeral:
            channel = self.state.channels.get(stored.channel_id)
            await self.hub.dispatch(
                "MESSAGE_UPDATE", self.state.message_view(stored), guild_id=guild_id_of(channel)
            )

    def attachments(self, call: ApiCall, channel: Payload) -> list[Payload]:
        """Attachment objects for the files uploaded with `call` (served by the fake's CDN)."""
        return [
            self.attachment_store.add(channel["id"], filename, data, content_type)
            for (filename, _, content_type), data in zip(call.files, call.file_data, strict=True)
        ]


def guild_id_of(channel: Payload | None) -> int | None:
    """Guild id of a channel payload, None for DMs."""
    if channel is None or channel.get("guild_id") is None:
        return None
    return int(channel["guild_id"])
