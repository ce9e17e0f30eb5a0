"""Circuit breaker, token-bucket rate limiter and retry with exponential backoff."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
BreakerState = Literal["closed", "open", "half_open"]


class CircuitOpenError(RuntimeError):
    """Raised when a call is refused because the breaker is open."""

    def __init__(self, retry_in: float) -> None:
        super().__init__(f"circuit open; next trial in {retry_in:.0f}s")
        self.retry_in = retry_in


class CircuitBreaker:
    """Stops calling a failing dependency for a while, then lets one trial call through.

    `failure_threshold` consecutive failures open the breaker for `cooldown_seconds`;
    after that it is half-open and admits a single trial call, whose outcome closes
    or re-opens it.
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        cooldown_seconds: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown_seconds <= 0:
            raise ValueError("cooldown_seconds must be positive")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._consecutive_failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self.times_opened = 0

    @property
    def state(self) -> BreakerState:
        """`closed`, `open` or `half_open`, as shown on /status and in metrics."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_seconds:
            return "half_open"
        return "open"

    @property
    def consecutive_failures(self) -> int:
        """Failures recorded since the last success."""
        return self._consecutive_failures

    def seconds_until_trial(self) -> float:
        """Seconds until the breaker turns half-open (0 unless open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown_seconds - (self._clock() - self._opened_at))

    def allow_request(self) -> bool:
        """Whether a call may go ahead now; claims the trial slot when half-open.

        Returns:
            True when closed, or when half-open and no trial is running yet.
        """
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """Close the breaker and reset the failure count."""
        if self._opened_at is not None:
            logger.info("circuit closed after a successful trial call")
        self._consecutive_failures = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """Count a failure; open (or re-open) the breaker when the threshold is reached."""
        self._consecutive_failures += 1
        was_trial = self._trial_in_flight
        self._trial_in_flight = False
        opening = self._opened_at is None and (self._consecutive_failures >= self.failure_threshold)
        if was_trial or opening:
            self.times_opened += 1
            self._opened_at = self._clock()
            logger.warning(
                "circuit opened after %d consecutive failures; cooling down %.0fs",
                self._consecutive_failures,
                self.cooldown_seconds,
            )

    def release_trial(self) -> None:
        """Give back an unused trial slot (the trial call was cancelled)."""
        self._trial_in_flight = False

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Run `operation` through the breaker.

        Args:
            operation: Zero-argument coroutine factory.

        Returns:
            The operation's result.

        Raises:
            CircuitOpenError: The breaker refused the call.
        """
        if not self.allow_request():
            raise CircuitOpenError(self.seconds_until_trial())
        try:
            result = await operation()
        except asyncio.CancelledError:
            self.release_trial()
            raise
        except Exception:
            self.record_failure()
            raise
        self.record_success()
        return result


class RateLimiter:
    """Async token bucket: `requests_per_minute` sustained, up to `burst` at once.

    Reservations are taken without awaiting, so concurrent callers queue in order
    and each sleeps only for its own slot.
    """

    def __init__(
        self,
        requests_per_minute: float = 20.0,
        *,
        burst: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.interval = 60.0 / requests_per_minute
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._next_slot: float | None = None

    def reserve(self) -> float:
        """Take the next free slot and return how long the caller must wait for it."""
        now = self._clock()
        theoretical = now if self._next_slot is None else max(self._next_slot, now)
        allowed_at = theoretical - (self.burst - 1) * self.interval
        wait = max(0.0, allowed_at - now)
        self._next_slot = theoretical + self.interval
        return wait

    async def acquire(self) -> float:
        """Wait for a slot.

        Returns:
            The seconds waited (0 when a token was available).
        """
        wait = self.reserve()
        if wait > 0:
            logger.debug("rate limit: waiting %.2fs", wait)
            await self._sleep(wait)
        return wait


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently to retry: exponential backoff with optional jitter."""

    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.0

    def backoff(self, failed_attempts: int, retry_after: float | None = None) -> float:
        """Delay before the next attempt.

        Args:
            failed_attempts: Attempts made so far (1 after the first failure).
            retry_after: A server-provided wait (Retry-After), honoured up to `max_delay`.

        Returns:
            Seconds to wait.
        """
        delay = self.base_delay * self.multiplier ** (failed_attempts - 1)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if self.jitter > 0:
            delay *= 1 + random.uniform(-self.jitter, self.jitter)
        return max(0.0, min(delay, self.max_delay))


async def retry_async(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    should_retry: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] | None = None,
    sleep: Sleep = asyncio.sleep,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
) -> T:
    """Run `operation`, retrying failures `should_retry` accepts.

    Args:
        operation: Zero-argument coroutine factory, called once per attempt.
        policy: Attempt count and backoff.
        should_retry: Whether an exception is worth another attempt.
        retry_after: Extracts a server-requested wait from an exception, if any.
        sleep: Awaitable sleep (injectable for tests).
        on_retry: Called with (attempt, exception, delay) before each wait.

    Returns:
        The first successful result.

    Raises:
        Exception: The last failure, when it is not retryable or attempts run out.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation()
        except Exception as exc:
            if attempt >= policy.attempts or not should_retry(exc):
                raise
            hint = retry_after(exc) if retry_after else None
            delay = policy.backoff(attempt, hint)
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            await sleep(delay)
