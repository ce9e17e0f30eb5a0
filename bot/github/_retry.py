"""Retry loop for GitHub calls: backoff on 5xx and network errors, waits on rate limits."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from githubkit.exception import GitHubException, RequestError, RequestFailed

from bot.github._errors import (
    GitHubAuthError,
    GitHubError,
    GitHubNotFoundError,
    GitHubRejectedError,
    GitHubUnavailable,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How hard to try before giving up.

    Attributes:
        attempts: Total tries of one call, the first included.
        base_delay: First backoff in seconds; doubles on each retry.
        max_delay: Longest single backoff.
        max_total_wait: Give up rather than wait longer than this in total (rate limits
            that reset later than this fail at once with `GitHubUnavailable.retry_at`).
        jitter: Fraction of random spread added to backoffs (not to server-given waits).
    """

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_total_wait: float = 120.0
    jitter: float = 0.2

    def backoff(self, retry_number: int) -> float:
        """Seconds to wait before retry `retry_number` (1-based)."""
        delay = min(self.base_delay * 2.0 ** (retry_number - 1), self.max_delay)
        return delay * (1 + random.uniform(0, self.jitter))


@dataclass(frozen=True, slots=True)
class Transient:
    """A failure worth retrying.

    Attributes:
        reason: Short words for the log.
        wait: Seconds the server asked for, or None to back off.
        ambiguous: The request may have taken effect (the answer was lost or a 5xx).
    """

    reason: str
    wait: float | None = None
    ambiguous: bool = False


def _seconds_until(value: str, now: float) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return None


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds a rate-limited answer asks us to wait, or None if it is no rate limit."""
    if (retry_after := headers.get("retry-after")) is not None:
        seconds = _seconds_until(retry_after, now)
        return max(seconds, 0.0) if seconds is not None else None
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            return max(float(headers.get("x-ratelimit-reset", "")) - now, 0.0) + 1.0
        except ValueError:
            return 60.0
    return None


def classify(exc: GitHubException, *, what: str) -> Transient:
    """Sort a githubkit error into a retryable failure or raise the typed error for it."""
    if isinstance(exc, RequestFailed):
        response = exc.response
        status = response.status_code
        if status in (403, 429):
            wait = rate_limit_wait(response.headers, time.time())
            if wait is not None:
                return Transient(f"rate limited ({status})", wait=wait)
            if status == 429:
                return Transient("too many requests (429)")
        if status >= 500:
            return Transient(f"server error {status}", ambiguous=True)
        message = _message(response.raw_response)
        if status == 401:
            raise GitHubAuthError(f"{what}: GitHub rejected the token (401 {message})") from None
        if status == 404:
            raise GitHubNotFoundError(f"{what}: not found (404)") from None
        raise GitHubRejectedError(f"{what}: {status} {message}", status=status) from None
    if isinstance(exc, RequestError) and isinstance(exc.exc, httpx.TransportError | OSError):
        kind = "timed out" if isinstance(exc.exc, httpx.TimeoutException) else "network error"
        return Transient(f"{kind}: {type(exc.exc).__name__}", ambiguous=True)
    raise GitHubError(f"{what}: {exc!r}") from exc


def _message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return str(payload["message"])[:200]
    return response.reason_phrase


async def call_with_retry(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    policy: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
    recover: Callable[[], Awaitable[T | None]] | None = None,
) -> T:
    """Run `operation`, retrying transient failures within `policy`.

    Args:
        operation: The call to make; raises githubkit errors on failure.
        what: `METHOD /path` for logs and errors (never holds secrets).
        policy: Attempts and waiting budget.
        sleep: Awaited with the seconds to wait (tests pass a recorder).
        recover: After an ambiguous failure (the request may have taken effect), awaited
            before the next try; a non-None result is returned instead of retrying.

    Returns:
        The operation's result.

    Raises:
        GitHubUnavailable: Out of attempts or of waiting budget.
        GitHubError: A failure retrying cannot fix (typed subclasses for 401, 404, ...).
    """
    waited = 0.0
    for attempt in range(1, policy.attempts + 1):
        try:
            return await operation()
        except GitHubException as exc:
            failure = classify(exc, what=what)
            last_exc: GitHubException = exc
        wait = failure.wait if failure.wait is not None else policy.backoff(attempt)
        if attempt == policy.attempts:
            break
        if waited + wait > policy.max_total_wait:
            retry_at = datetime.fromtimestamp(time.time() + wait, UTC)
            raise GitHubUnavailable(
                f"{what}: {failure.reason}; next try would exceed the wait budget "
                f"({policy.max_total_wait:.0f}s)",
                retry_at=retry_at,
            ) from last_exc
        log.warning(
            "github %s: %s; retry %d/%d in %.1fs",
            what,
            failure.reason,
            attempt,
            policy.attempts - 1,
            wait,
        )
        await sleep(wait)
        waited += wait
        if failure.ambiguous and recover is not None:
            recovered = await recover()
            if recovered is not None:
                log.info("github %s: the earlier try had succeeded; not repeating it", what)
                return recovered
    raise GitHubUnavailable(
        f"{what}: {failure.reason}, still failing after {policy.attempts} attempts"
    ) from last_exc
