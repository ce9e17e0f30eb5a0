"""Scripted failures for the fake GitHub: statuses, rate limits, dropped and slow answers."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

FaultKind = Literal["status", "reset", "delay"]


@dataclass
class Fault:
    """One scripted answer to one request."""

    kind: FaultKind
    status: int = 502
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    seconds: float = 0.0
    after_processing: bool = False


class ScriptedFaults:
    """A queue of faults per route (`"METHOD /path"`), consumed one request at a time."""

    rate_limit: int

    def __init__(self) -> None:
        self._faults: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque
        )

    def _pop_fault(self, route: str) -> Fault | None:
        queue = self._faults.get(route)
        return queue.popleft() if queue else None

    @staticmethod
    def _drop_connection(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError

    async def with_fault(
        self, request: web.Request, serve: Callable[[], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Serve the request through the next fault scripted for its route, if any."""
        fault = self._pop_fault(f"{request.method} {request.path}")
        if fault is not None and not fault.after_processing:
            if fault.kind == "reset":
                return self._drop_connection(request)
            if fault.kind == "status":
                return web.json_response(fault.body, status=fault.status, headers=fault.headers)
            await asyncio.sleep(fault.seconds)
            fault = None
        response = await serve()
        if fault is None:
            return response
        if fault.kind == "reset":
            return self._drop_connection(request)
        if fault.kind == "status":
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        await asyncio.sleep(fault.seconds)
        return response

    def fail_next(
        self,
        route: str,
        *,
        status: int = 502,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
        after_processing: bool = False,
    ) -> None:
        """Answer the next `times` requests to `route` with `status` instead of serving them.

        With `after_processing` the request is served first and its answer replaced, as
        when GitHub creates an issue and then fails with a 502.
        """
        message = {"message": "Server Error" if status >= 500 else "Error"}
        for _ in range(times):
            self._faults[route].append(
                Fault(
                    "status",
                    status,
                    dict(headers or {}),
                    body or message,
                    after_processing=after_processing,
                )
            )

    def secondary_limit_next(self, route: str, *, retry_after: int = 1, times: int = 1) -> None:
        """A secondary rate limit: 403 with `Retry-After`."""
        body = {"message": "You have exceeded a secondary rate limit. Please wait."}
        self.fail_next(
            route, status=403, times=times, headers={"Retry-After": str(retry_after)}, body=body
        )

    def primary_limit_next(
        self, route: str, *, reset_in: int = 2, status: int = 403, times: int = 1
    ) -> int:
        """A primary rate limit: `X-RateLimit-Remaining: 0` and a reset time; returns the reset."""
        reset = int(time.time()) + reset_in
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Resource": "core",
        }
        body = {"message": "API rate limit exceeded for user ID 1."}
        self.fail_next(route, status=status, times=times, headers=headers, body=body)
        return reset

    def reset_next(self, route: str, *, times: int = 1, after_processing: bool = False) -> None:
        """Close the connection without an answer (optionally after doing the work)."""
        for _ in range(times):
            self._faults[route].append(Fault("reset", after_processing=after_processing))

    def delay_next(
        self, route: str, *, seconds: float, times: int = 1, after_processing: bool = True
    ) -> None:
        """Do the work at once but answer only after `seconds`.

        Without `after_processing` the fake waits first and does the work after, so a
        caller that gives up meanwhile leaves nothing behind.
        """
        for _ in range(times):
            self._faults[route].append(
                Fault("delay", seconds=seconds, after_processing=after_processing)
            )

    def clear_faults(self, route: str) -> None:
        """Drop every fault still queued for `route`."""
        self._faults.pop(route, None)

    def pending_faults(self, route: str) -> int:
        """How many scripted faults are still queued for `route`."""
        return len(self._faults.get(route, ()))
