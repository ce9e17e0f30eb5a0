"""Giving memory back after a burst: the idle watcher and the C heap trim."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from storage.memory import IdleRelease, return_free_memory


def _wait(condition: Callable[[], object], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_release_runs_once_after_the_work_has_been_idle() -> None:
    released = threading.Event()
    idle = IdleRelease(released.set, after=0.2)
    with idle.busy():
        time.sleep(0.3)
        assert not released.is_set()  # never while working
    _wait(released.is_set)
    time.sleep(0.3)
    assert idle.releases == 1  # once per idle spell


def test_new_work_postpones_the_release() -> None:
    calls: list[float] = []
    idle = IdleRelease(lambda: calls.append(time.monotonic()), after=0.3)
    with idle.busy():
        pass
    last = time.monotonic()
    for _ in range(4):  # work keeps arriving more often than the idle delay
        time.sleep(0.1)
        with idle.busy():
            last = time.monotonic()
    _wait(lambda: calls)
    assert calls[0] - last >= 0.29
    assert idle.releases == 1


def test_overlapping_work_releases_only_when_all_of_it_ended() -> None:
    released = threading.Event()
    idle = IdleRelease(released.set, after=0.1)
    first, second = idle.busy(), idle.busy()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    time.sleep(0.3)
    assert not released.is_set()
    second.__exit__(None, None, None)
    _wait(released.is_set)


def test_a_failing_release_is_logged_and_the_next_spell_tries_again() -> None:
    attempts: list[int] = []

    def release() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("arena busy")

    idle = IdleRelease(release, after=0.05)
    with idle.busy():
        pass
    _wait(lambda: len(attempts) == 1)
    with idle.busy():
        pass
    _wait(lambda: idle.releases == 1)
    assert len(attempts) == 2


def test_cancel_forgets_a_pending_release_and_plans_no_more() -> None:
    released = threading.Event()
    idle = IdleRelease(released.set, after=0.1)
    with idle.busy():
        pass
    idle.cancel()
    with idle.busy():  # a pass still running while its embedder closes
        pass
    time.sleep(0.3)
    assert not released.is_set()


def test_the_c_heap_trim_is_available_on_linux() -> None:
    assert return_free_memory()
