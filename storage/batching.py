"""Micro-batching: concurrent calls made in one event-loop turn share one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from storage.futures import settle

In = TypeVar("In")
Out = TypeVar("Out")


class MicroBatcher(Generic[In, Out]):
    """Gathers concurrent `submit` calls into batches for one coroutine.

    Values submitted in the same event-loop turn (and while a batch runs) go to
    `run_batch` together, at most `max_batch` at a time; each caller gets its own result or
    the batch's error. With `isolate_failures`, a failed batch is run again one value at a
    time, so a bad value fails only its own caller. Up to `concurrency` batches run at
    once; values that arrive meanwhile wait for a free slot and go in the next batch.
    """

    def __init__(
        self,
        run_batch: Callable[[list[In]], Awaitable[Sequence[Out]]],
        *,
        max_batch: int | None = None,
        isolate_failures: bool = False,
        concurrency: int = 1,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._isolate_failures = isolate_failures
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, value: In) -> Out:
        """`value`'s result, computed in a batch with the other callers of this turn."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._pending.append((value, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the callers of this turn join the batch
        while self._pending:
            await self._slots.acquire()
            size = self.max_batch or len(self._pending)
            batch, self._pending = self._pending[:size], self._pending[size:]
            task = asyncio.get_running_loop().create_task(self._run_in_slot(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run_in_slot(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            await self._run(batch)
        finally:
            self._slots.release()

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        """Run one batch; every caller's future is settled, whatever happens."""
        try:
            results = await self._run_batch([value for value, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} returned {len(results)} result(s)")
        except Exception as exc:
            if self._isolate_failures and len(batch) > 1:
                for one in batch:
                    await self._run([one])
                return
            for _, future in batch:
                settle(future, error=exc)
            return
        except BaseException as exc:  # cancelled: the callers must not wait forever
            for _, future in batch:
                settle(future, error=RuntimeError(f"batch interrupted: {exc!r}"))
            raise
        for (_, future), result in zip(batch, results, strict=True):
            settle(future, result)
