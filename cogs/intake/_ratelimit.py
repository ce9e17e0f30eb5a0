"""Per-user sliding-window limiter that defers triage, with a capped backlog per user.

Times are wall-clock seconds (`time.time`), so a start planned before a restart can be
restored from the database (`FeedbackItem.triage_after`) after it.
"""

from __future__ import annotations

import time
from bisect import insort
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

Clock = Callable[[], float]
_IDLE_KEYS = 1024


@dataclass(frozen=True)
class Admission:
    """What to do with one new item from a user.

    Attributes:
        delay: Seconds to wait before triage may start (0 when under the limit).
        notify: True when the user should be told, once per window, that they are over it.
        start: The reserved start time (clock seconds); give it back with `release`.
        refused: The user's backlog is full: the item is not taken.
        notify_full: Tell the user, once until there is room again, that it is full.
    """

    delay: float
    notify: bool
    start: float = 0.0
    refused: bool = False
    notify_full: bool = False

    @property
    def deferred(self) -> bool:
        """True when triage has to wait."""
        return self.delay > 0


class TriageRateLimiter:
    """At most `limit` triage starts per `window` seconds per key (guild and user).

    An item over the limit gets a start time in the future, the earliest that keeps every
    sliding window at `limit` starts or fewer; the user is told once per window. At most
    `backlog` items of a key may wait for their start: past it new items are refused, and
    the user is told once until one of them has started.
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        backlog: int | None = None,
        clock: Clock = time.time,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.limit = limit
        self.window = window
        self.backlog = backlog
        self._clock = clock
        self._starts: dict[Hashable, list[float]] = {}
        self._notified_at: dict[Hashable, float] = {}
        self._told_full: set[Hashable] = set()

    def _current(self, key: Hashable, now: float) -> list[float]:
        starts = self._starts.setdefault(key, [])
        expired = 0
        while expired < len(starts) and starts[expired] <= now - self.window:
            expired += 1
        del starts[:expired]
        return starts

    def _reserve(self, key: Hashable, now: float, not_before: float) -> float:
        starts = self._current(key, now)
        start = max(now, not_before)
        if len(starts) >= self.limit:
            start = max(start, starts[-self.limit] + self.window)
        insort(starts, start)
        return start

    def admit(self, key: Hashable) -> Admission:
        """Reserve a triage start for one new item of `key`, or refuse it.

        Args:
            key: Who sent it, e.g. `(guild_id, user_id)`.

        Returns:
            The delay before triage may start, or a refusal, and what to tell the user.
        """
        now = self._clock()
        if self.backlog is not None and self.waiting(key) >= self.backlog:
            told = key in self._told_full
            self._told_full.add(key)
            return Admission(delay=0.0, notify=False, refused=True, notify_full=not told)
        self._told_full.discard(key)
        start = self._reserve(key, now, now)
        delay = start - now
        notify = False
        if delay > 0:
            last = self._notified_at.get(key)
            if last is None or now - last >= self.window:
                self._notified_at[key] = now
                notify = True
        self._forget_idle(now)
        return Admission(delay=delay, notify=notify, start=start)

    def resume(self, key: Hashable, *, not_before: float) -> Admission:
        """After a restart: reserve a start for an item already stored, never refused.

        Args:
            key: Who sent it.
            not_before: The start planned before the restart (kept if the window allows).
        """
        now = self._clock()
        start = self._reserve(key, now, not_before)
        return Admission(delay=start - now, notify=False, start=start)

    def started(self, key: Hashable, at: float) -> None:
        """After a restart: a start that happened before it (it counts in its window)."""
        now = self._clock()
        if at > now - self.window:
            insort(self._current(key, now), at)

    def release(self, key: Hashable, admission: Admission) -> None:
        """Give back the start reserved by `admission` (its item was not stored)."""
        starts = self._starts.get(key, [])
        if not admission.refused and admission.start in starts:
            starts.remove(admission.start)

    def waiting(self, key: Hashable) -> int:
        """Starts of `key` still to come (its backlog)."""
        now = self._clock()
        return sum(1 for start in self._starts.get(key, ()) if start > now)

    def pending(self, key: Hashable) -> int:
        """Starts of `key` inside the current window or still to come."""
        now = self._clock()
        return sum(1 for start in self._starts.get(key, ()) if start > now - self.window)

    def _forget_idle(self, now: float) -> None:
        """Drop keys whose every start left the window (bounded memory)."""
        if len(self._starts) < _IDLE_KEYS:
            return
        idle = [k for k, s in self._starts.items() if not s or s[-1] <= now - self.window]
        for key in idle:
            self._starts.pop(key, None)
            self._told_full.discard(key)
            notified = self._notified_at.get(key)
            if notified is not None and notified <= now - self.window:
                self._notified_at.pop(key, None)


class ReplyBudget:
    """At most `limit` replies per `window` seconds per key (replies to unusable messages)."""

    def __init__(self, *, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: dict[Hashable, deque[float]] = {}

    def allow(self, key: Hashable) -> bool:
        """Whether one more reply to `key` fits its window (and count it if so)."""
        now = self._clock()
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) >= self.limit:
            return False
        sent.append(now)
        if len(self._sent) > _IDLE_KEYS:
            for idle in [k for k, times in self._sent.items() if not times]:
                del self._sent[idle]
        return True
