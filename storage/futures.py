"""Completing asyncio futures that may already be done (cancelled callers)."""

from __future__ import annotations

import asyncio


def settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    """Resolve `future` with None, or with `error`, unless it is already done."""
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
