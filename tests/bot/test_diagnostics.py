"""The state dump: where tasks wait, grouped by place."""

from __future__ import annotations

import asyncio

from bot.diagnostics import task_summary


async def _parked(event: asyncio.Event) -> None:
    await event.wait()


async def _sleeping() -> None:
    await asyncio.sleep(3600)


async def test_task_summary_groups_tasks_by_the_line_they_wait_on() -> None:
    event = asyncio.Event()
    parked = [asyncio.create_task(_parked(event)) for _ in range(3)]
    sleeping = asyncio.create_task(_sleeping())
    await asyncio.sleep(0)
    try:
        lines = task_summary({*parked, sleeping}).splitlines()
    finally:
        event.set()
        sleeping.cancel()
        await asyncio.gather(*parked, sleeping, return_exceptions=True)

    assert len(lines) == 2
    assert lines[0].strip().startswith("3 × ") and "in _parked" in lines[0]
    assert lines[1].strip().startswith("1 × ") and "in _sleeping" in lines[1]


async def test_task_summary_counts_the_places_it_leaves_out() -> None:
    async def wait_here(event: asyncio.Event) -> None:
        await event.wait()

    event = asyncio.Event()
    tasks = {asyncio.create_task(wait_here(event)), asyncio.create_task(_parked(event))}
    await asyncio.sleep(0)
    try:
        summary = task_summary(tasks, limit=1)
    finally:
        event.set()
        await asyncio.gather(*tasks)
    assert summary.splitlines()[-1] == "… and 1 more place(s)"
