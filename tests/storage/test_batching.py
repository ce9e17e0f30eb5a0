"""Micro-batching of concurrent calls."""

from __future__ import annotations

import asyncio

import pytest

from storage.batching import MicroBatcher


async def test_one_turn_is_one_batch_and_each_caller_gets_its_result() -> None:
    batches: list[list[int]] = []

    async def double(values: list[int]) -> list[int]:
        batches.append(values)
        await asyncio.sleep(0.01)
        return [2 * v for v in values]

    batcher = MicroBatcher(double, max_batch=4)
    results = await asyncio.gather(*(batcher.submit(v) for v in range(6)))
    assert results == [0, 2, 4, 6, 8, 10]
    assert batches == [[0, 1, 2, 3], [4, 5]]


async def test_a_failed_batch_fails_every_caller_unless_isolated() -> None:
    async def refuse_odd(values: list[int]) -> list[int]:
        if any(v % 2 for v in values):
            raise ValueError("odd")
        return values

    shared = MicroBatcher(refuse_odd)
    outcomes = await asyncio.gather(*(shared.submit(v) for v in (2, 3)), return_exceptions=True)
    assert all(isinstance(o, ValueError) for o in outcomes)

    isolated = MicroBatcher(refuse_odd, isolate_failures=True)
    outcomes = await asyncio.gather(
        *(isolated.submit(v) for v in (2, 3, 4)), return_exceptions=True
    )
    assert outcomes[0] == 2 and outcomes[2] == 4
    assert isinstance(outcomes[1], ValueError)


async def test_a_cancelled_caller_does_not_break_the_batch() -> None:
    release = asyncio.Event()

    async def slow(values: list[int]) -> list[int]:
        await release.wait()
        return values

    batcher = MicroBatcher(slow)
    first = asyncio.create_task(batcher.submit(1))
    second = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second == 2


async def test_a_second_batch_starts_while_the_first_runs_when_allowed() -> None:
    release = asyncio.Event()
    started: list[list[int]] = []

    async def held(values: list[int]) -> list[int]:
        started.append(values)
        if values == [1]:
            await release.wait()
        return values

    batcher = MicroBatcher(held, concurrency=2)
    first = asyncio.create_task(batcher.submit(1))
    await asyncio.sleep(0.01)
    assert await asyncio.wait_for(batcher.submit(2), 5) == 2  # not behind the first batch
    assert not first.done()
    release.set()
    assert await first == 1
    assert started == [[1], [2]]


async def test_callers_never_wait_forever_on_a_wrong_sized_or_cancelled_batch() -> None:
    async def drops_one(values: list[int]) -> list[int]:
        return values[:-1]

    short = MicroBatcher(drops_one)
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(short.submit(v) for v in (1, 2)), return_exceptions=True), 5
    )
    assert all(isinstance(o, RuntimeError) and "returned 1" in str(o) for o in outcomes)

    async def cancelled(values: list[int]) -> list[int]:
        raise asyncio.CancelledError

    interrupted = MicroBatcher(cancelled)
    outcome = await asyncio.wait_for(
        asyncio.gather(interrupted.submit(1), return_exceptions=True), 5
    )
    assert isinstance(outcome[0], RuntimeError) and "interrupted" in str(outcome[0])
