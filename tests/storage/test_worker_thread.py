"""WorkerThread: calls run in order on one thread; results, errors and cancellation."""

from __future__ import annotations

import asyncio
import threading

import pytest

from storage.worker_thread import WorkerThread


async def test_calls_run_in_order_on_the_thread_and_return_their_results() -> None:
    worker = WorkerThread("test-worker")
    seen: list[tuple[int, str]] = []

    def record(n: int, *, suffix: str = "") -> str:
        seen.append((n, threading.current_thread().name))
        return f"{n}{suffix}"

    try:
        results = await asyncio.gather(*(worker.call(record, n, suffix="!") for n in range(50)))
    finally:
        worker.close()
    assert results == [f"{n}!" for n in range(50)]
    assert [n for n, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test-worker"}


async def test_an_exception_reaches_the_caller_and_the_thread_goes_on() -> None:
    worker = WorkerThread("test-worker")
    try:
        with pytest.raises(ZeroDivisionError):
            await worker.call(lambda: 1 / 0)
        assert await worker.call(lambda: "still serving") == "still serving"
    finally:
        worker.close()


async def test_a_cancelled_caller_leaves_its_started_call_to_finish() -> None:
    worker = WorkerThread("test-worker")
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def slow() -> None:
        started.set()
        release.wait(5)
        finished.append(True)

    try:
        waiting = asyncio.create_task(worker.call(slow))
        await asyncio.to_thread(started.wait, 5)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        assert await worker.call(lambda: len(finished)) == 1
    finally:
        worker.close()


async def test_a_closed_worker_refuses_calls_after_running_the_queued_ones() -> None:
    worker = WorkerThread("test-worker")
    done: list[int] = []
    pending = [asyncio.ensure_future(worker.call(done.append, n)) for n in range(5)]
    await asyncio.sleep(0)
    await asyncio.to_thread(worker.close)
    assert done == list(range(5))
    await asyncio.gather(*pending)
    with pytest.raises(RuntimeError, match="closed"):
        await worker.call(done.append, 6)
