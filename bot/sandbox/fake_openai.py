"""A loopback OpenAI-compatible chat API that answers structured-output calls from the request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox._openai_answers import completion, content_text, last_user_text
from bot.sandbox._openai_quirks import NAMED_QUIRKS, Quirks, aborts, max_tokens, refusal
from bot.sandbox._server import LoopbackServer

__all__ = ["BEHAVIOURS", "NAMED_QUIRKS", "FakeOpenAI", "Quirks", "RecordedRequest"]

logger = logging.getLogger(__name__)

Behaviour = str | Mapping[str, Any]
"""A named behaviour, or a mapping of field overrides applied to an `ok` answer."""

BEHAVIOURS = frozenset({"ok", "malformed", "invalid", "empty", "timeout", "429", "500", "401"})


@dataclass
class RecordedRequest:
    """One chat-completion request as the fake received it."""

    model: str
    messages: list[dict[str, Any]]
    body: dict[str, Any]
    behaviour: str
    authorization: str | None = None

    @property
    def user_text(self) -> str:
        """The text of the last user message."""
        return last_user_text(self.messages)

    @property
    def system_text(self) -> str:
        """The concatenated system messages."""
        return "\n".join(
            content_text(m.get("content")) for m in self.messages if m.get("role") == "system"
        )


class FakeOpenAI(LoopbackServer):
    """OpenAI-compatible `/v1/chat/completions` and `/v1/models` on 127.0.0.1.

    Every request takes the next scripted behaviour (see `script`), or the default
    one when the script is empty. `ok` answers are computed from the user text with a
    keyword rule and shaped to whatever tool or JSON schema the client sent. `quirks`
    switch on the ways real self-hosted servers differ (see `Quirks`).
    """

    def __init__(
        self,
        *,
        port: int = 0,
        models: Iterable[str] = ("gpt-4o-mini", "gpt-4o"),
        api_key: str | None = None,
        retry_after_seconds: float = 1.0,
        hang_seconds: float = 30.0,
        quirks: Quirks | None = None,
    ) -> None:
        self.models = list(models)
        self.quirks = quirks or Quirks()
        self.api_key = api_key
        self.retry_after_seconds = retry_after_seconds
        self.hang_seconds = hang_seconds
        self.requests: list[RecordedRequest] = []
        self._port = port
        self._script: deque[Behaviour] = deque()
        self._default: Behaviour = "ok"
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._stopping = asyncio.Event()

    @property
    def url(self) -> str:
        """Base URL ending in `/v1`, as `OPENAI_BASE_URL` expects."""
        if self._url is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._url

    @property
    def models_called(self) -> list[str]:
        """Model names of the recorded requests, in order."""
        return [request.model for request in self.requests]

    def script(self, behaviours: Iterable[Behaviour]) -> None:
        """Queue behaviours for the next requests, one per request.

        Args:
            behaviours: Names from `BEHAVIOURS`, or mappings of field overrides for `ok`.
        """
        items = list(behaviours)
        for item in items:
            _check_behaviour(item)
        self._script.extend(items)

    def set_default(self, behaviour: Behaviour) -> None:
        """Set the behaviour used when the script is empty."""
        _check_behaviour(behaviour)
        self._default = behaviour

    def reset(self) -> None:
        """Forget recorded requests and the script; go back to answering `ok`."""
        self.requests.clear()
        self._script.clear()
        self._default = "ok"
        self.quirks = Quirks()

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_get("/v1/models", self._list_models)
        self._stopping.clear()
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self._url = f"http://127.0.0.1:{port}/v1"
        logger.info("fake OpenAI API listening on %s", self._url)

    async def stop(self) -> None:
        """Release hanging requests and stop listening."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._url = None

    def _next_behaviour(self) -> Behaviour:
        return self._script.popleft() if self._script else self._default

    async def _list_models(self, request: web.Request) -> web.Response:
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "iterateswarm-sandbox"}
            for name in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat_completions(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "request body is not JSON", "invalid_request_error")
        behaviour = self._next_behaviour()
        name = behaviour if isinstance(behaviour, str) else "ok"
        self.requests.append(
            RecordedRequest(
                model=str(body.get("model", "")),
                messages=list(body.get("messages", [])),
                body=body,
                behaviour=name,
                authorization=request.headers.get("Authorization"),
            )
        )
        if self.api_key is not None and (
            request.headers.get("Authorization") != f"Bearer {self.api_key}"
        ):
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if name == "timeout":
            await self._hang()
            if self._stopping.is_set():
                return _error(503, "server shutting down", "server_error")
        elif name == "429":
            response = _error(429, "Rate limit reached, try again later.", "rate_limit_exceeded")
            response.headers["Retry-After"] = f"{self.retry_after_seconds:g}"
            return response
        elif name == "500":
            return _error(500, "The server had an error processing your request.", "server_error")
        elif name == "401":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if (refused := refusal(self.quirks, body)) is not None:
            status, message = refused
            return _error(status, message, "unsupported")
        if aborts(self.quirks, body):
            logger.info("fake OpenAI drops the connection: tool schema too large for a grammar")
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        if self.quirks.runaway and max_tokens(body) is None:
            await self._hang()
            return _error(503, "server shutting down", "server_error")
        overrides = behaviour if isinstance(behaviour, Mapping) else {}
        return web.json_response(completion(body, name, overrides, self.quirks))

    async def _hang(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.hang_seconds)


def _check_behaviour(behaviour: Behaviour) -> None:
    if isinstance(behaviour, str) and behaviour not in BEHAVIOURS:
        raise ValueError(f"unknown behaviour {behaviour!r}; expected one of {sorted(BEHAVIOURS)}")


def _error(status: int, message: str, code: str) -> web.Response:
    kind = {429: "requests", 401: "invalid_request_error"}.get(status, "server_error")
    payload = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(payload, status=status)
