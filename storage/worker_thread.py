"""One thread that runs blocking calls in order for coroutines, at little cost per call."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from storage.futures import settle

T = TypeVar("T")

_Job = tuple[Callable[[], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]]


class WorkerThread:
    """A daemon thread that owns a resource (a database connection) and runs calls on it.

    `loop.run_in_executor` builds a `concurrent.futures.Future`, takes the executor's
    locks and chains the result back through a second future; for calls that each take a
    fraction of a millisecond, that is much of the work. Here a call is one queue put and
    one `call_soon_threadsafe`. Calls run one at a time, in the order they were made.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`func(*args, **kwargs)` on the thread; its result or exception comes back here.

        A cancelled caller stops waiting, but a call that has started still runs to its end.
        """
        if self._closed:
            raise RuntimeError("worker thread is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((functools.partial(func, *args, **kwargs), loop, future))
        return await future

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            work, loop, future = job
            try:
                result = work()
            except BaseException as exc:  # handed to the awaiting coroutine
                outcome: tuple[Any, BaseException | None] = (None, exc)
            else:
                outcome = (result, None)
            # A loop that closed while the call ran has nobody waiting for its result.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, future, *outcome)

    def close(self) -> None:
        """Run the calls already queued, then stop the thread (blocking)."""
        if not self._closed:
            self._closed = True
            self._jobs.put(None)
        self._thread.join()
