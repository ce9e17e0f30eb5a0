"""Sliding-window triage limiter: deferral times and the once-per-window notice."""

from __future__ import annotations

import pytest

from cogs.intake._ratelimit import TriageRateLimiter


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_under_the_limit_starts_at_once() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=3, window=60, clock=clock)
    admissions = [limiter.admit("u") for _ in range(3)]
    assert [a.delay for a in admissions] == [0, 0, 0]
    assert not any(a.notify for a in admissions)


def test_over_the_limit_defers_to_when_the_window_allows() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=2, window=60, clock=clock)
    limiter.admit("u")
    clock.now += 10
    limiter.admit("u")
    third = limiter.admit("u")
    fourth = limiter.admit("u")
    fifth = limiter.admit("u")
    assert third.delay == pytest.approx(50)  # first start (t=0) leaves the window at t=60
    assert fourth.delay == pytest.approx(60)  # second start (t=10) leaves at t=70
    assert fifth.delay == pytest.approx(110)  # third start (t=60) leaves at t=120
    assert limiter.pending("u") == 5


def test_user_is_told_once_per_window() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=1, window=100, clock=clock)
    limiter.admit("u")
    notices = [limiter.admit("u").notify for _ in range(4)]
    assert notices == [True, False, False, False]
    clock.now += 100
    assert limiter.admit("u").notify is True


def test_keys_are_independent() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=1, window=100, clock=clock)
    limiter.admit((1, 10))
    assert limiter.admit((1, 10)).deferred
    assert not limiter.admit((1, 11)).deferred
    assert not limiter.admit((2, 10)).deferred


def test_window_slides() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=2, window=60, clock=clock)
    limiter.admit("u")
    clock.now += 30
    limiter.admit("u")
    clock.now += 31  # the first start is out of the window, the second is not
    assert limiter.admit("u").delay == 0
    assert limiter.admit("u").delay == pytest.approx(29)


def test_every_window_holds_at_most_limit_starts() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=5, window=600, clock=clock)
    starts = []
    for step in range(40):
        clock.now = 1000.0 + step * 7
        starts.append(clock.now + limiter.admit("u").delay)
    starts.sort()
    for index in range(len(starts) - 5):
        assert starts[index + 5] - starts[index] >= 600


def test_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="limit"):
        TriageRateLimiter(limit=0, window=10)
    with pytest.raises(ValueError, match="window"):
        TriageRateLimiter(limit=1, window=0)
