"""Per-user sliding-window limiter that defers triage instead of dropping feedback."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class Admission:
    """What to do with one new item from a user.

    Attributes:
        delay: Seconds to wait before triage may start (0 when under the limit).
        notify: True when the user should be told, once per window, that they are over it.
    """

    delay: float
    notify: bool

    @property
    def deferred(self) -> bool:
        """True when triage has to wait."""
        return self.delay > 0


class TriageRateLimiter:
    """At most `limit` triage starts per `window` seconds per key (guild and user).

    Nothing is ever refused: an item over the limit gets a start time in the future,
    the earliest one that keeps every sliding window of `window` seconds at `limit`
    starts or fewer. The user is told once per window that they are being slowed down.
    State lives in memory only; after a restart every received item is resumed anyway.
    """

    def __init__(self, *, limit: int, window: float, clock: Clock = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        if window <= 0:
            raise ValueError("window must be positive")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._starts: dict[Hashable, deque[float]] = {}
        self._notified_at: dict[Hashable, float] = {}

    def admit(self, key: Hashable) -> Admission:
        """Reserve a triage start for one new item of `key`.

        Args:
            key: Who sent it, e.g. `(guild_id, user_id)`.

        Returns:
            The delay before triage may start and whether to tell the user.
        """
        now = self._clock()
        starts = self._starts.setdefault(key, deque())
        while starts and starts[0] <= now - self.window:
            starts.popleft()
        start = now
        if len(starts) >= self.limit:
            start = max(now, starts[-self.limit] + self.window)
        starts.append(start)
        delay = start - now
        notify = False
        if delay > 0:
            last = self._notified_at.get(key)
            if last is None or now - last >= self.window:
                self._notified_at[key] = now
                notify = True
        self._forget_idle(now)
        return Admission(delay=delay, notify=notify)

    def pending(self, key: Hashable) -> int:
        """Starts of `key` inside the current window or still to come."""
        now = self._clock()
        return sum(1 for start in self._starts.get(key, ()) if start > now - self.window)

    def _forget_idle(self, now: float) -> None:
        """Drop keys whose every start left the window (bounded memory)."""
        if len(self._starts) < 1024:
            return
        idle = [k for k, s in self._starts.items() if not s or s[-1] <= now - self.window]
        for key in idle:
            self._starts.pop(key, None)
            notified = self._notified_at.get(key)
            if notified is not None and notified <= now - self.window:
                self._notified_at.pop(key, None)
