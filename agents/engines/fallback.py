"""An engine that prefers the LLM and falls back to another engine when the LLM is down."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from agents.engines.base import Classification, Spec, TriageEngine, bounded_engine_name
from agents.engines.llm import LLMUnavailableError, failure_reason
from agents.engines.resilience import BreakerState, CircuitBreaker

logger = logging.getLogger(__name__)

T = TypeVar("T")
_instance_ids = itertools.count()
MAX_REASONING_CHARS = 2000


@dataclass(frozen=True)
class FallbackStats:
    """Counters for /status and metrics."""

    breaker_state: BreakerState
    llm_calls: int
    llm_failures: int
    fallbacks: int
    last_failure_reason: str | None

    def as_dict(self) -> dict[str, Any]:
        """The stats as a plain dict."""
        return asdict(self)


class FallbackEngine:
    """Uses `primary` unless its circuit breaker is open or the call fails after retries.

    The breaker counts server and transport failures; an answer the LLM could not get into
    shape (`LLMUnavailableError.server_failure` false) falls back without counting.

    When the fallback answers, `name` (for the current task) reads like
    `offline (llm unavailable: timeout)` and the classification's reasoning says so.
    """

    def __init__(
        self,
        primary: TriageEngine,
        fallback: TriageEngine,
        *,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.breaker = breaker or CircuitBreaker()
        self.llm_calls = 0
        self.llm_failures = 0
        self.fallbacks = 0
        self.last_failure_reason: str | None = None
        self._used: ContextVar[str | None] = ContextVar(
            f"fallback_engine_used_{next(_instance_ids)}", default=None
        )

    @property
    def name(self) -> str:
        """The engine that answered the latest call in this task, else the preferred one."""
        used = self._used.get()
        if used is not None:
            return used
        if self.breaker.state == "open":
            return self._fallback_name("circuit open")
        return self.primary.name

    @property
    def breaker_state(self) -> BreakerState:
        """`closed`, `open` or `half_open`."""
        return self.breaker.state

    def stats(self) -> FallbackStats:
        """A snapshot of the counters and the breaker state."""
        return FallbackStats(
            breaker_state=self.breaker.state,
            llm_calls=self.llm_calls,
            llm_failures=self.llm_failures,
            fallbacks=self.fallbacks,
            last_failure_reason=self.last_failure_reason,
        )

    async def classify(
        self, text: str, *, kind_hint: str | None = None, guild_id: int | None = None
    ) -> Classification:
        """Classify with the primary engine, or the fallback when the primary is unavailable.

        Args:
            text: Normalised feedback text.
            kind_hint: The kind the reporter chose, if any.
            guild_id: The guild the feedback came from (whose corrections apply).

        Returns:
            The verdict; when the fallback answered, its reasoning starts with why.
        """
        result, reason = await self._run(
            lambda engine: engine.classify(text, kind_hint=kind_hint, guild_id=guild_id)
        )
        if reason is None:
            return result
        note = f"LLM unavailable ({reason}); the {self.fallback.name} engine answered. "
        reasoning = (note + result.reasoning)[:MAX_REASONING_CHARS]
        return result.model_copy(update={"reasoning": reasoning})

    async def draft_spec(
        self, text: str, classification: Classification, *, labels: list[str]
    ) -> Spec:
        """Draft a spec with the primary engine, or the fallback when it is unavailable.

        Args:
            text: Normalised feedback text.
            classification: The verdict from `classify`.
            labels: The only labels the spec may use.

        Returns:
            The drafted spec.
        """
        result, _ = await self._run(
            lambda engine: engine.draft_spec(text, classification, labels=labels)
        )
        return result

    async def _run(self, call: Callable[[TriageEngine], Awaitable[T]]) -> tuple[T, str | None]:
        """Call the primary through the breaker; on refusal or failure call the fallback."""
        if self.breaker.allow_request():
            self.llm_calls += 1
            try:
                result = await call(self.primary)
            except asyncio.CancelledError:
                self.breaker.release_trial()
                raise
            except Exception as exc:
                reason = exc.reason if isinstance(exc, LLMUnavailableError) else failure_reason(exc)
                if getattr(exc, "server_failure", True):
                    self.breaker.record_failure()
                else:
                    # The server answered, only not usably: no reason to stop calling it.
                    self.breaker.release_trial()
                self.llm_failures += 1
                self.last_failure_reason = reason
                logger.warning(
                    "%s failed (%s); using %s",
                    self.primary.name,
                    reason,
                    self.fallback.name,
                    exc_info=not isinstance(exc, LLMUnavailableError),
                )
            else:
                self.breaker.record_success()
                self._used.set(self.primary.name)
                return result, None
        else:
            reason = "circuit open"
        self.fallbacks += 1
        result = await call(self.fallback)
        self._used.set(self._fallback_name(reason))
        return result, reason

    def _fallback_name(self, reason: str) -> str:
        return bounded_engine_name(f"{self.fallback.name} (llm unavailable: {reason})")
