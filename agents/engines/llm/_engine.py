"""Triage through an OpenAI-compatible chat model: negotiated, cascading over models."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import openai
from pydantic import BaseModel, SecretStr

from agents.engines.base import Classification, Spec, bounded_engine_name
from agents.engines.corrections import CorrectionMatch, CorrectionMemory
from agents.engines.llm._calls import LLMCounters, StructuredCaller
from agents.engines.llm._config import DEFAULT_ENDPOINT, LLMConfig
from agents.engines.llm._errors import (
    InvalidOutputError,
    LLMUnavailableError,
    MethodUnsupportedError,
    failure_reason,
    is_fatal,
)
from agents.engines.llm._memory import InMemoryMethods, MethodMemory
from agents.engines.llm._messages import (
    Message,
    classification_messages,
    filter_labels,
    spec_messages,
)
from agents.engines.llm._methods import METHODS, StructuredMethod
from agents.engines.resilience import RateLimiter, Sleep

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
FEW_SHOT_EXAMPLES = 3
FEW_SHOT_MIN_SIMILARITY = 0.5
PROBE_TEXT = "The app crashes every time I open the settings page since the last update."

__all__ = ["LLMConfig", "LLMCounters", "LLMEngine", "ProbeResult"]  # re-exported by the package


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of `LLMEngine.probe`: the method that works and one call's latency."""

    model: str
    method: str
    seconds: float
    verdict: Classification


class LLMEngine:
    """`TriageEngine` backed by an OpenAI-compatible chat model with structured output.

    Each call asks for a constraint-free schema with the configured method (with `auto`:
    the one remembered for the model, negotiated on first use), bounded by `max_tokens`
    and a per-call timeout, at most `max_concurrency` at once, each request after a token
    of the rate limiter. Transient failures are retried with exponential backoff (honouring
    Retry-After); an answer outside the schema is retried once with the error in the
    prompt; then the next model of the cascade is tried.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        rate_limiter: RateLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
        corrections: CorrectionMemory | None = None,
        method_memory: MethodMemory | None = None,
    ) -> None:
        key = config.api_key
        secret = key.get_secret_value() if isinstance(key, SecretStr) else key
        if not secret or not secret.strip():
            raise ValueError("LLMEngine needs an API key (OPENAI_API_KEY); use the offline engine")
        models = [m.strip() for m in config.models if m and m.strip()]
        if not models:
            raise ValueError("LLMEngine needs at least one model name")
        self.config = config
        self.models = list(dict.fromkeys(models))
        self.endpoint = (config.base_url or DEFAULT_ENDPOINT).rstrip("/")
        self.corrections = corrections
        self.method_memory = method_memory or InMemoryMethods()
        self._caller = StructuredCaller(
            config,
            endpoint=self.endpoint,
            api_key=secret,
            rate_limiter=rate_limiter or RateLimiter(config.requests_per_minute),
            sleep=sleep,
        )
        self._known: dict[str, StructuredMethod] = {}
        self._negotiating: dict[str, asyncio.Lock] = {}
        self._probe_rounds: dict[str, int] = {}
        self._probe_failures: dict[str, BaseException] = {}

    @property
    def name(self) -> str:
        """`llm:<primary model>`, bounded to what the database stores."""
        return bounded_engine_name(f"llm:{self.models[0]}")

    @property
    def counters(self) -> LLMCounters:
        """What the calls came to so far."""
        return self._caller.counters

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far."""
        return self._caller.counters.requests

    def method_for(self, model: str) -> str | None:
        """The structured-output method last seen working for `model` in this process."""
        setting = self.config.structured_output_method
        return self._known.get(model) if setting == "auto" else setting

    async def classify(
        self, text: str, *, kind_hint: str | None = None, guild_id: int | None = None
    ) -> Classification:
        """Classify one feedback text.

        Args:
            text: Normalised feedback text (treated strictly as data).
            kind_hint: The kind the reporter chose, if any.
            guild_id: The guild the feedback came from; its closest maintainer corrections
                go into the prompt as examples.

        Returns:
            The model's verdict, fitted to the limits of `Classification`.

        Raises:
            LLMUnavailableError: Every model failed.
        """
        examples = await self.few_shot_examples(text, guild_id)
        return await self._structured(
            Classification,
            classification_messages(text, kind_hint, examples),
            self.config.max_tokens_classify,
        )

    async def few_shot_examples(self, text: str, guild_id: int | None) -> list[CorrectionMatch]:
        """The guild's closest corrections worth showing the model (none without a memory)."""
        if self.corrections is None:
            return []
        try:
            matches = await self.corrections.nearest(guild_id, text, k=FEW_SHOT_EXAMPLES)
        except Exception:
            logger.warning("could not read the correction memory", exc_info=True)
            return []
        return [m for m in matches if m.similarity >= FEW_SHOT_MIN_SIMILARITY]

    async def draft_spec(
        self, text: str, classification: Classification, *, labels: list[str]
    ) -> Spec:
        """Draft an issue whose labels are limited to `labels`.

        Args:
            text: Normalised feedback text (treated strictly as data).
            classification: The verdict from `classify`.
            labels: The only labels the spec may use.

        Returns:
            The spec, fitted to the limits of `Spec`, labels filtered to the allowed list.

        Raises:
            LLMUnavailableError: Every model failed.
        """
        spec = await self._structured(
            Spec, spec_messages(text, classification, labels), self.config.max_tokens_spec
        )
        return spec.model_copy(update={"labels": filter_labels(spec.labels, labels)})

    async def probe(self) -> ProbeResult:
        """Classify one sample text with the primary model, negotiating afresh under `auto`.

        Returns:
            The method that worked and the latency of the call that used it.

        Raises:
            LLMUnavailableError: No method worked.
        """
        model = self.models[0]
        self._known.pop(model, None)
        messages = classification_messages(PROBE_TEXT, None)
        try:
            if self.config.structured_output_method == "auto":
                verdict = await self._negotiate(
                    model, Classification, messages, self.config.max_tokens_classify
                )
            else:
                verdict = await self._from_model(
                    model, Classification, messages, self.config.max_tokens_classify
                )
        except Exception as exc:
            if not _is_call_failure(exc):
                raise
            raise _unavailable([(model, exc)]) from exc
        method = self.method_for(model) or "?"
        return ProbeResult(model, method, self._caller.last_latency, verdict)

    async def _structured(
        self, schema: type[ModelT], messages: list[Message], max_tokens: int
    ) -> ModelT:
        """Run the cascade until one model returns a valid `schema` instance."""
        failures: list[tuple[str, BaseException]] = []
        for model in self.models:
            try:
                return await self._from_model(model, schema, messages, max_tokens)
            except Exception as exc:
                if not _is_call_failure(exc):
                    raise
                logger.warning("llm %s gave up: %s", model, failure_reason(exc))
                failures.append((model, exc))
                if is_fatal(exc):
                    break
        raise _unavailable(failures) from failures[-1][1]

    async def _from_model(
        self, model: str, schema: type[ModelT], messages: list[Message], max_tokens: int
    ) -> ModelT:
        setting = self.config.structured_output_method
        if setting != "auto":
            return await self._caller.ask(
                model, setting, schema, messages, max_tokens, negotiating=False
            )
        method = await self._recall(model)
        if method is None:
            return await self._negotiate(model, schema, messages, max_tokens)
        try:
            return await self._caller.ask(
                model, method, schema, messages, max_tokens, negotiating=True
            )
        except MethodUnsupportedError as exc:
            logger.warning("llm %s: %s; negotiating the method again", model, exc)
            if self._known.get(model) == method:
                del self._known[model]
            return await self._negotiate(model, schema, messages, max_tokens, failed=method)

    async def _negotiate(
        self,
        model: str,
        schema: type[ModelT],
        messages: list[Message],
        max_tokens: int,
        *,
        failed: StructuredMethod | None = None,
    ) -> ModelT:
        """Find the method that works, one task per model at a time, and remember it.

        Tasks that waited while another's negotiation failed on the server (a timeout, a
        refused connection) fail with that error at once instead of probing in turn.
        """
        round_seen = self._probe_rounds.get(model, 0)
        async with self._negotiating.setdefault(model, asyncio.Lock()):
            known = self._known.get(model)
            if known is None or known == failed:
                if self._probe_rounds.get(model, 0) != round_seen:
                    raise self._probe_failures[model]
                try:
                    return await self._probe(model, schema, messages, max_tokens, failed)
                except InvalidOutputError:
                    raise
                except Exception as exc:
                    self._probe_rounds[model] = round_seen + 1
                    self._probe_failures[model] = exc
                    raise
        return await self._caller.ask(model, known, schema, messages, max_tokens, negotiating=True)

    async def _probe(
        self,
        model: str,
        schema: type[ModelT],
        messages: list[Message],
        max_tokens: int,
        failed: StructuredMethod | None,
    ) -> ModelT:
        """Try the methods in order; the first that answers is remembered."""
        refusals: list[MethodUnsupportedError] = []
        for method in (m for m in METHODS if m != failed):
            try:
                result = await self._caller.ask(
                    model, method, schema, messages, max_tokens, negotiating=True
                )
            except MethodUnsupportedError as exc:
                logger.info("llm %s: %s", model, exc)
                refusals.append(exc)
                continue
            await self._remember(model, method)
            return result
        tried = "/".join(refusal.method for refusal in refusals)
        raise MethodUnsupportedError(tried, refusals[-1].cause)

    async def _recall(self, model: str) -> StructuredMethod | None:
        if model in self._known:
            return self._known[model]
        try:
            method = await self.method_memory.recall(endpoint=self.endpoint, model=model)
        except Exception:
            logger.warning("could not read the remembered structured-output method", exc_info=True)
            return None
        for known in METHODS:
            if method == known:
                self._known[model] = known
                return known
        return None

    async def _remember(self, model: str, method: StructuredMethod) -> None:
        if self._known.get(model) == method:
            return
        self._known[model] = method
        logger.info("llm %s at %s answers with %s", model, self.endpoint, method)
        try:
            await self.method_memory.remember(endpoint=self.endpoint, model=model, method=method)
        except Exception:
            logger.warning("could not store the structured-output method", exc_info=True)


def _is_call_failure(exc: BaseException) -> bool:
    return isinstance(
        exc, openai.OpenAIError | InvalidOutputError | MethodUnsupportedError | TimeoutError
    )


def _unavailable(failures: Sequence[tuple[str, BaseException]]) -> LLMUnavailableError:
    causes = [(model, failure_reason(exc)) for model, exc in failures]
    reasons = [reason for _, reason in causes]
    summary = reasons[-1] if len(set(reasons)) == 1 else "; ".join(reasons)
    server_failure = any(not isinstance(exc, InvalidOutputError) for _, exc in failures)
    return LLMUnavailableError(summary, causes=causes, server_failure=server_failure)
