"""What a running bot is doing, on request: `kill -USR1 <pid>` writes it to the log.

SIGUSR1 dumps every thread's stack and every asyncio task's current frame; it needs a
responsive event loop. SIGUSR2 dumps the threads from the signal handler itself, so it
still answers when the loop is stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import signal
import sys
from collections import Counter

log = logging.getLogger(__name__)

#: How many distinct task frames the dump lists (the rest are counted).
MAX_TASK_LINES = 60


def task_summary(tasks: set[asyncio.Task[object]], *, limit: int = MAX_TASK_LINES) -> str:
    """One line per distinct place tasks wait (`file:line in function`), busiest first."""
    places: Counter[str] = Counter()
    for task in tasks:
        stack = task.get_stack(limit=1)
        if not stack:
            places[f"{task.get_coro()!r} (not started or finished)"] += 1
            continue
        frame = stack[-1]
        code = frame.f_code
        places[f"{code.co_filename}:{frame.f_lineno} in {code.co_qualname}"] += 1
    lines = [f"{count:4d} × {place}" for place, count in places.most_common(limit)]
    hidden = len(places) - len(lines)
    if hidden > 0:
        lines.append(f"… and {hidden} more place(s)")
    return "\n".join(lines)


def dump_state() -> None:
    """Write the threads' stacks to stderr and the tasks' frames to the log."""
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    tasks = asyncio.all_tasks()
    log.warning("%d asyncio task(s) waiting at:\n%s", len(tasks), task_summary(tasks))


def install_dump_signals(loop: asyncio.AbstractEventLoop) -> None:
    """SIGUSR1: threads and tasks (via the loop); SIGUSR2: threads (even if the loop is stuck)."""
    with contextlib.suppress(NotImplementedError, AttributeError, ValueError):
        loop.add_signal_handler(signal.SIGUSR1, dump_state)
        faulthandler.register(signal.SIGUSR2, file=sys.stderr, all_threads=True)
