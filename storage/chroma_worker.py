"""The child process that owns the embedded chromadb database.

chromadb's embedded writes hold the GIL for tens of milliseconds per upsert; run in the
bot's process they would stall its event loop however they are threaded. So the embedded
database lives in one child process (`WorkerProcess`) and the bot sends it operations.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
import weakref
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Any, NoReturn

from storage.chroma import CALL_TIMEOUT_SECONDS, ChromaCollections, persistent_client
from storage.memory import IdleRelease, return_free_memory, rss_mib

log = logging.getLogger(__name__)

_worker_collections: ChromaCollections | None = None


def _exit_with(owner_pid: int) -> None:
    """Exit this process as soon as `owner_pid` is gone (it may have been killed)."""
    try:
        pidfd = os.pidfd_open(owner_pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is not None:
        select.select([pidfd], [], [])
    else:
        while True:
            time.sleep(1.0)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                break
    os._exit(0)  # every write chromadb acknowledged is committed already


#: Calls after which the worker hands freed heap pages back, once writes have stopped for
#: `TRIM_AFTER_SECONDS` (a trim costs about 2 ms). chromadb's writes leave buffers in the
#: C heap otherwise.
_WRITES = frozenset({"upsert", "delete", "retag"})
TRIM_AFTER_SECONDS = 1.0

#: The child is replaced once it has grown this much past its size when fresh (indexes
#: loaded) and has been idle for `RECYCLE_IDLE_SECONDS`: what chromadb's native code keeps
#: after many writes, beyond its indexes, that no trim gives back.
RECYCLE_GROWTH_MIB = 32.0
RECYCLE_IDLE_SECONDS = 10.0
_idle_trim: IdleRelease | None = None


def _open_in_worker(path: str, owner_pid: int, trim_after: float | None) -> None:
    global _worker_collections, _idle_trim  # noqa: PLW0603 - the worker process's own
    if trim_after is not None:
        _idle_trim = IdleRelease(return_free_memory, trim_after)
    # Ctrl-C and SIGTERM are for the bot, which finishes its writes and then stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(owner_pid,), daemon=True).start()
    _worker_collections = ChromaCollections(persistent_client(path))


def _call_in_worker(method: str, args: tuple[Any, ...]) -> Any:
    assert _worker_collections is not None
    call = getattr(_worker_collections, method)
    if method not in _WRITES or _idle_trim is None:
        return call(*args)
    with _idle_trim.busy():
        return call(*args)


@functools.cache
def _worker_context() -> multiprocessing.context.BaseContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["chromadb", __name__])
    return context


class WorkerProcess:
    """`ChromaCollections` over the embedded database at `path`, in one child process.

    The child is forked from a clean server process that has chromadb imported already
    (never from the bot itself, which runs model and database threads), ignores the
    terminal's signals, and exits when the store is closed or the bot's process is gone.
    A call that gets no answer within `call_timeout` seconds raises `TimeoutError`, and the
    child is replaced: a stuck database costs one failed call (retried by its caller), not
    every search that would queue behind it. A child that has grown `recycle_growth_mib`
    past its fresh size is replaced too, once idle for `recycle_after` seconds; the new one
    loads the indexes at once.
    """

    def __init__(
        self,
        path: str,
        *,
        call_timeout: float = CALL_TIMEOUT_SECONDS,
        trim_after: float | None = TRIM_AFTER_SECONDS,
        recycle_growth_mib: float | None = RECYCLE_GROWTH_MIB,
        recycle_after: float = RECYCLE_IDLE_SECONDS,
    ) -> None:
        self._path = path
        self.call_timeout = call_timeout
        self._trim_after = trim_after
        self._lock = threading.Lock()
        self._closed = False
        self._in_flight = 0
        self.recycle_growth_mib = recycle_growth_mib
        self.recycles = 0
        self._child = self._start_child()
        self._idle: IdleRelease | None = None
        if recycle_growth_mib is not None and rss_mib(os.getpid()) is not None:
            self._idle = IdleRelease(self._recycle_if_grown, recycle_after)
        self._shutdown = weakref.finalize(self, self._shutdown_current)

    def _start_child(self) -> _Child:
        """A new child whose first work is loading the indexes; its fresh size is read then."""
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=_worker_context(),
            initializer=_open_in_worker,
            initargs=(self._path, os.getpid(), self._trim_after),
        )
        child = _Child(pool)
        pool.submit(_call_in_worker, "warm", ()).add_done_callback(child.warmed)
        return child

    def _shutdown_current(self) -> None:
        with self._lock:
            self._closed = True
            pool, pids = self._child.pool, self._child.pids
        pool.shutdown(wait=False)  # the operations already sent still run
        _stop(pids, grace=self.call_timeout)  # a stuck child is killed, not waited for
        pool.shutdown(wait=True)

    @property
    def pids(self) -> list[int]:
        """Process ids of the child."""
        return self._child.pids

    def call(self, method: str, *args: Any) -> Any:
        """Run it in the child and wait for the result (at most `call_timeout` seconds)."""
        with self._idle.busy() if self._idle else contextlib.nullcontext():
            with self._lock:
                pool = self._child.pool
                try:
                    future = pool.submit(_call_in_worker, method, args)
                except BrokenProcessPool:
                    future = None
                else:
                    self._in_flight += 1
            if future is None:
                self._restart_after(pool, f"its process had died before {method}")
            try:
                return future.result(timeout=self.call_timeout)
            except FutureTimeout:
                self._restart_after(pool, f"no answer to {method} in {self.call_timeout:.0f}s")
            except BrokenProcessPool:
                self._restart_after(pool, f"its process died during {method}")
            finally:
                with self._lock:
                    self._in_flight -= 1

    def _restart_after(self, pool: ProcessPoolExecutor, what: str) -> NoReturn:
        """Replace the child of `pool` and fail the call like one that got no answer.

        Callers retry a `TimeoutError`; the call is not repeated here (it may have been
        done already, and the caller knows whether that matters).
        """
        log.error("the vector database failed: %s; restarting it", what)
        self._replace(pool)
        raise TimeoutError(f"vector database: {what}")

    def _recycle_if_grown(self) -> None:
        """Replace an idle child that grew `recycle_growth_mib` past its fresh size."""
        with self._lock:
            child, limit = self._child, self.recycle_growth_mib
            if self._closed or self._in_flight or child.fresh_mib is None or limit is None:
                return
            pids = child.pids
            size = rss_mib(pids[0]) if len(pids) == 1 else None
            if size is None or size - child.fresh_mib < limit:
                return
            log.info(
                "the vector database's process grew by %.0f MiB; replacing it",
                size - child.fresh_mib,
            )
            child.pool.shutdown(wait=False)  # idle: it exits at once, all it wrote committed
            _stop(pids)
            self._child = self._start_child()  # never two processes on the directory
            self.recycles += 1

    def _replace(self, stuck: ProcessPoolExecutor) -> None:
        """Kill the child of `stuck` and start a fresh one (once, however many callers)."""
        with self._lock:
            if self._child.pool is not stuck or self._closed:
                return
            pids = self.pids
            _stop(pids, kill=True)
            stuck.shutdown(wait=False, cancel_futures=True)
            self._child = self._start_child()

    def close(self) -> None:
        """Stop the child after the operations already sent."""
        if self._idle is not None:
            self._idle.cancel()
        self._shutdown()


class _Child:
    """One child process (its pool of one) and its size once its indexes were loaded."""

    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self.pool = pool
        self.fresh_mib: float | None = None

    @property
    def pids(self) -> list[int]:
        return list(getattr(self.pool, "_processes", None) or {})

    def warmed(self, done: Future[Any]) -> None:
        """Note the fresh size (no recycling for a child whose indexes did not load)."""
        if done.cancelled():
            return
        if (error := done.exception()) is not None:
            log.warning("the vector database could not load its indexes: %r", error)
            return
        pids = self.pids
        if len(pids) == 1:
            self.fresh_mib = rss_mib(pids[0])


def _stop(pids: list[int], *, kill: bool = False, grace: float = 10.0) -> None:
    """Wait for `pids` to exit (killed at once with `kill`, or after `grace` seconds)."""
    if not kill:
        _wait_gone(pids, within=grace)
    for pid in pids:
        if _running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    _wait_gone(pids, within=10.0)


def _wait_gone(pids: list[int], *, within: float) -> None:
    """Wait until none of `pids` runs any more (they are not our children to reap)."""
    deadline = time.monotonic() + within
    for pid in pids:
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
