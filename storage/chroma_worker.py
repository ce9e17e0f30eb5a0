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
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from storage.chroma import CALL_TIMEOUT_SECONDS, ChromaCollections, persistent_client
from storage.memory import IdleRelease, return_free_memory

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
        self._pool = self._new_pool()
        self._in_flight = 0
        self._fresh_mib: float | None = None
        self.recycle_growth_mib = recycle_growth_mib
        self.recycles = 0
        self._idle: IdleRelease | None = None
        if recycle_growth_mib is not None and rss_mib(os.getpid()) is not None:
            self._idle = IdleRelease(self._recycle_if_grown, recycle_after)
        self._shutdown = weakref.finalize(self, self._shutdown_current)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=_worker_context(),
            initializer=_open_in_worker,
            initargs=(self._path, os.getpid(), self._trim_after),
        )

    def _shutdown_current(self) -> None:
        self._pool.shutdown(wait=True)

    @property
    def pids(self) -> list[int]:
        """Process ids of the child (empty before the first call)."""
        return list(getattr(self._pool, "_processes", None) or {})

    def call(self, method: str, *args: Any) -> Any:
        """Run it in the child and wait for the result (at most `call_timeout` seconds)."""
        with self._idle.busy() if self._idle else contextlib.nullcontext():
            with self._lock:
                pool = self._pool
                future = pool.submit(_call_in_worker, method, args)
                self._in_flight += 1
            try:
                result = future.result(timeout=self.call_timeout)
            except FutureTimeout:
                log.error(
                    "the vector database did not answer %s within %.0fs; restarting it",
                    method,
                    self.call_timeout,
                )
                self._replace(pool)
                raise TimeoutError(f"vector database call {method!r} timed out") from None
            finally:
                with self._lock:
                    self._in_flight -= 1
            if self._fresh_mib is None:
                self._note_fresh_size(pool)
            return result

    def _note_fresh_size(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            pids = self.pids
            if self._pool is pool and self._fresh_mib is None and len(pids) == 1:
                self._fresh_mib = rss_mib(pids[0])

    def _recycle_if_grown(self) -> None:
        """Replace an idle child that grew `recycle_growth_mib` past its fresh size."""
        with self._lock:
            pids, fresh, limit = self.pids, self._fresh_mib, self.recycle_growth_mib
            if self._in_flight or fresh is None or limit is None or len(pids) != 1:
                return
            size = rss_mib(pids[0])
            if size is None or size - fresh < limit:
                return
            log.info("the vector database's process grew by %.0f MiB; replacing it", size - fresh)
            old, self._pool, self._fresh_mib = self._pool, self._new_pool(), None
            old.shutdown(wait=True)  # idle: the child exits at once, all it wrote committed
            self.recycles += 1
        self.call("warm")  # the fresh size counts the indexes, as any search would load them

    def _replace(self, stuck: ProcessPoolExecutor) -> None:
        """Kill the child of `stuck` and start a fresh one (once, however many callers)."""
        with self._lock:
            if self._pool is not stuck:
                return
            pids = self.pids
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _wait_gone(pids, within=10.0)
            stuck.shutdown(wait=False, cancel_futures=True)
            self._pool, self._fresh_mib = self._new_pool(), None

    def close(self) -> None:
        """Stop the child after the operations already sent."""
        if self._idle is not None:
            self._idle.cancel()
        self._shutdown()


def _wait_gone(pids: list[int], *, within: float) -> None:
    """Wait until none of `pids` runs any more (they are not our children to reap)."""
    deadline = time.monotonic() + within
    for pid in pids:
        while time.monotonic() < deadline and _running(pid):
            time.sleep(0.05)


def rss_mib(pid: int) -> float | None:
    """Resident size of process `pid` in MiB, where /proc tells (Linux), else None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
