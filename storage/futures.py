"""Completing asyncio futures that may already be done (cancelled callers)."""

from __future__ import annotations

import asyncio
from typing import Any


def settle(
    future: asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    """Resolve `future` with `result`, or with `error`, unless it is already done."""
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
