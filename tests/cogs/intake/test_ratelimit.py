"""Sliding-window triage limiter: deferral times and the once-per-window notice."""

from __future__ import annotations

import pytest

from cogs.intake._ratelimit import ReplyBudget, TriageRateLimiter


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


def test_past_the_backlog_new_items_are_refused_and_the_user_told_once() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=2, window=60, backlog=3, clock=clock)
    admissions = [limiter.admit("u") for _ in range(8)]
    assert [a.deferred for a in admissions] == [False, False, True, True, True, False, False, False]
    assert [a.refused for a in admissions] == [False] * 5 + [True] * 3
    assert [a.notify_full for a in admissions] == [False] * 5 + [True, False, False]
    assert limiter.waiting("u") == 3
    assert not limiter.admit("someone else").refused
    clock.now += 61  # the first two deferred items have started: there is room again
    assert limiter.waiting("u") == 1
    assert [limiter.admit("u").refused for _ in range(2)] == [False, False]
    again = limiter.admit("u")
    assert again.refused and again.notify_full, "told again: a new episode"


def test_a_reservation_released_frees_its_start() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=1, window=60, clock=clock)
    first = limiter.admit("u")
    limiter.release("u", first)
    assert limiter.admit("u").delay == 0


def test_after_a_restart_known_starts_are_restored_and_waiting_items_paced() -> None:
    clock = ManualClock()
    limiter = TriageRateLimiter(limit=2, window=60, backlog=10, clock=clock)
    limiter.started("u", clock.now - 50)  # two starts before the restart, in the window
    limiter.started("u", clock.now - 10)
    overdue = [limiter.resume("u", not_before=clock.now - 5) for _ in range(3)]
    assert [a.delay for a in overdue] == [pytest.approx(10), pytest.approx(50), pytest.approx(70)]
    later = limiter.resume("u", not_before=clock.now + 500)
    assert later.delay == pytest.approx(500), "never earlier than planned"
    assert limiter.waiting("u") == 4


def test_replies_to_unusable_messages_are_limited_per_user_and_window() -> None:
    clock = ManualClock()
    budget = ReplyBudget(limit=1, window=60, clock=clock)
    assert [budget.allow("u") for _ in range(3)] == [True, False, False]
    assert budget.allow("v")
    clock.now += 60
    assert budget.allow("u")
