"""Circuit breaker, rate limiter and retry helper, driven by an injected clock."""

from __future__ import annotations

import asyncio

import pytest

from agents.engines.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    RateLimiter,
    RetryPolicy,
    retry_async,
)


class ManualClock:
    """A clock that moves only when told to; `sleep` advances it and records the wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class DependencyError(RuntimeError):
    """A failure of the dependency under test."""


async def _fail() -> None:
    raise DependencyError("down")


async def _ok() -> str:
    return "ok"


def _open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        assert breaker.allow_request()
        breaker.record_failure()


def test_breaker_opens_after_five_consecutive_failures() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow_request()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow_request()
    assert breaker.seconds_until_trial() == pytest.approx(30.0)
    assert breaker.times_opened == 1


def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(clock=ManualClock())
    for _ in range(4):
        breaker.record_failure()
    breaker.record_success()
    for _ in range(4):
        breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.consecutive_failures == 4


def test_half_open_admits_exactly_one_trial_and_success_closes() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(clock=clock)
    _open_breaker(breaker)
    clock.advance(29.9)
    assert breaker.state == "open"
    assert not breaker.allow_request()
    clock.advance(0.1)
    assert breaker.state == "half_open"
    assert breaker.allow_request()
    assert not breaker.allow_request(), "only one trial call while half-open"
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.allow_request()


def test_failed_trial_reopens_for_a_full_cooldown() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(clock=clock, cooldown_seconds=30)
    _open_breaker(breaker)
    clock.advance(30)
    assert breaker.allow_request()
    breaker.record_failure()
    assert breaker.state == "open"
    assert breaker.times_opened == 2
    clock.advance(29)
    assert breaker.state == "open"
    clock.advance(1)
    assert breaker.state == "half_open"


async def test_breaker_call_wraps_operations_and_refuses_when_open() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown_seconds=10, clock=clock)
    assert await breaker.call(_ok) == "ok"
    for _ in range(2):
        with pytest.raises(DependencyError):
            await breaker.call(_fail)
    with pytest.raises(CircuitOpenError) as refused:
        await breaker.call(_ok)
    assert refused.value.retry_in == pytest.approx(10)
    clock.advance(10)
    assert await breaker.call(_ok) == "ok"
    assert breaker.state == "closed"


async def test_cancelled_trial_gives_the_slot_back() -> None:
    clock = ManualClock()
    breaker = CircuitBreaker(clock=clock)
    _open_breaker(breaker)
    clock.advance(30)
    started = asyncio.Event()

    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(breaker.call(hang))
    await started.wait()
    assert not breaker.allow_request()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state == "half_open"
    assert breaker.allow_request()


async def test_rate_limiter_spaces_requests_at_the_configured_rate() -> None:
    clock = ManualClock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    assert limiter.interval == pytest.approx(3.0), "20 requests/minute by default"
    waits = [await limiter.acquire() for _ in range(3)]
    assert waits == pytest.approx([0.0, 3.0, 3.0])
    assert clock.sleeps == pytest.approx([3.0, 3.0])


async def test_rate_limiter_queues_concurrent_callers_in_order() -> None:
    clock = ManualClock()
    recorded: list[float] = []

    async def no_time_passes(seconds: float) -> None:
        recorded.append(seconds)

    limiter = RateLimiter(120, clock=clock, sleep=no_time_passes)
    waits = await asyncio.gather(*(limiter.acquire() for _ in range(4)))
    assert sorted(waits) == pytest.approx([0.0, 0.5, 1.0, 1.5])


def test_rate_limiter_allows_a_burst_then_throttles_and_does_not_bank_idle_time() -> None:
    clock = ManualClock()
    limiter = RateLimiter(60, burst=3, clock=clock)
    assert [limiter.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 1.0])
    clock.advance(3600)
    assert [limiter.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 1.0])


def test_rate_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(10, burst=0)


def test_backoff_is_exponential_capped_and_honours_retry_after() -> None:
    policy = RetryPolicy(attempts=5, base_delay=0.5, max_delay=3.0)
    assert [policy.backoff(n) for n in range(1, 5)] == pytest.approx([0.5, 1.0, 2.0, 3.0])
    assert policy.backoff(1, retry_after=2.5) == pytest.approx(2.5)
    assert policy.backoff(1, retry_after=60) == pytest.approx(3.0)


def test_jitter_stays_within_its_band() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10, jitter=0.2)
    delays = {policy.backoff(2) for _ in range(50)}
    assert all(1.6 <= d <= 2.4 for d in delays)
    assert len(delays) > 1


async def test_retry_async_retries_until_success_and_reports_each_wait() -> None:
    clock = ManualClock()
    calls: list[int] = []
    retries: list[tuple[int, float]] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DependencyError("transient")
        return "done"

    result = await retry_async(
        flaky,
        policy=RetryPolicy(attempts=3, base_delay=1.0),
        should_retry=lambda exc: isinstance(exc, DependencyError),
        sleep=clock.sleep,
        on_retry=lambda attempt, exc, delay: retries.append((attempt, delay)),
    )
    assert result == "done"
    assert clock.sleeps == [1.0, 2.0]
    assert retries == [(1, 1.0), (2, 2.0)]


async def test_retry_async_gives_up_after_the_last_attempt() -> None:
    clock = ManualClock()
    calls: list[int] = []

    async def always_fails() -> None:
        calls.append(1)
        raise DependencyError("still down")

    with pytest.raises(DependencyError):
        await retry_async(
            always_fails,
            policy=RetryPolicy(attempts=3, base_delay=1.0),
            should_retry=lambda exc: True,
            sleep=clock.sleep,
        )
    assert len(calls) == 3
    assert len(clock.sleeps) == 2


async def test_retry_async_does_not_retry_what_it_should_not() -> None:
    clock = ManualClock()
    calls: list[int] = []

    async def bad_request() -> None:
        calls.append(1)
        raise KeyError("permanent")

    with pytest.raises(KeyError):
        await retry_async(
            bad_request,
            policy=RetryPolicy(attempts=3),
            should_retry=lambda exc: isinstance(exc, DependencyError),
            sleep=clock.sleep,
        )
    assert calls == [1]
    assert clock.sleeps == []


async def test_retry_async_uses_the_server_requested_wait() -> None:
    clock = ManualClock()
    attempts: list[int] = []

    async def throttled() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise DependencyError("429")
        return "ok"

    await retry_async(
        throttled,
        policy=RetryPolicy(base_delay=0.1, max_delay=10),
        should_retry=lambda exc: True,
        retry_after=lambda exc: 4.0,
        sleep=clock.sleep,
    )
    assert clock.sleeps == [4.0]
