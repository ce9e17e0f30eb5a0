"""Giving freed memory back to the operating system."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim.restype = ctypes.c_int
    return trim


def return_free_memory() -> bool:
    """Hand the C heap's free pages back to the system; True when the C library can.

    Freed memory stays in the process otherwise: after a burst of large buffers (a model's
    activations), the resident size would keep the burst's peak for good.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


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


class IdleRelease:
    """Calls `release` once the work it watches has been idle for `after` seconds.

    Work is marked with `busy()` (from any thread). `release` runs on a timer thread, at
    most once per idle spell, and never while the watched work is running as far as the
    watcher knows; it must be safe to call beside work that starts meanwhile.
    """

    def __init__(self, release: Callable[[], object], after: float) -> None:
        self._release = release
        self.after = after
        self._lock = threading.Lock()
        self._running = 0
        self._timer: threading.Timer | None = None
        self._closed = False
        self.releases = 0

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Marks the work inside as running: no release starts until it has been idle."""
        with self._lock:
            self._running += 1
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and not self._closed:
                    self._timer = threading.Timer(self.after, self._fire)
                    self._timer.daemon = True
                    self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._closed or self._running or self._timer is not threading.current_thread():
                return  # work came, or a newer idle spell has its own timer
            self._timer = None
        try:
            self._release()
        except Exception:
            log.exception("could not release idle memory")
        else:
            self.releases += 1

    def cancel(self) -> None:
        """Forget a pending release, and never start another (the watched work is closing)."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
