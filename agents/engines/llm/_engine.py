"""Triage through an OpenAI-compatible chat model: bounded, negotiated, retried, cascading."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, SecretStr, ValidationError

from agents.engines.base import Classification, Spec, bounded_engine_name
from agents.engines.corrections import CorrectionMatch, CorrectionMemory
from agents.engines.llm._errors import (
    InvalidOutputError,
    LLMUnavailableError,
    MethodUnsupportedError,
    failure_reason,
    is_fatal,
    is_retryable,
    retry_after,
    says_unsupported,
)
from agents.engines.llm._memory import InMemoryMethods, MethodMemory
from agents.engines.llm._messages import (
    Message,
    classification_messages,
    filter_labels,
    spec_messages,
)
from agents.engines.llm._methods import (
    CORRECTION,
    METHODS,
    MethodSetting,
    ParsedAnswer,
    StructuredMethod,
    SystemRole,
    read_answer,
    request_body,
)
from agents.engines.llm._schema import fit, unwrap
from agents.engines.resilience import RateLimiter, RetryPolicy, Sleep, retry_async

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
FEW_SHOT_EXAMPLES = 3
FEW_SHOT_MIN_SIMILARITY = 0.5
MAX_ECHOED_ANSWER = 2000
PROBE_TEXT = "The app crashes every time I open the settings page since the last update."
DEFAULT_ENDPOINT = "https://api.openai.com/v1"


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """How to reach the model; built by the composition root from `LLMSettings`."""

    api_key: SecretStr | str | None
    models: Sequence[str]
    base_url: str | None = None
    requests_per_minute: float = 20.0
    timeout_seconds: float = 30.0
    attempts_per_model: int = 3
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 20.0
    structured_output_method: MethodSetting = "auto"
    temperature: float | None = 0.0
    max_tokens_classify: int = 300
    max_tokens_spec: int = 800
    max_concurrency: int = 8
    system_role: SystemRole = "system"


@dataclass
class LLMCounters:
    """What the engine's calls came to, for benchmarks and /status."""

    requests: int = 0
    answers: int = 0
    fitted: int = 0
    """Valid answers that needed a string cut or a number clamped."""
    cut_short: int = 0
    """Valid answers stopped by `max_tokens` and closed where they stopped."""
    corrective_retries: int = 0
    malformed: int = 0
    """Calls left without a valid answer after the corrective retry."""
    methods: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of `LLMEngine.probe`: the method that works and one call's latency."""

    model: str
    method: str
    seconds: float
    verdict: Classification


def _title_from_description(data: dict[str, Any]) -> dict[str, Any]:
    """A spec whose title is missing or too short gets the description's first line."""
    title = data.get("title")
    if isinstance(title, str) and len(title.strip()) >= 3:
        return data
    description = str(data.get("description") or "").strip()
    first_line = description.splitlines()[0].lstrip("#>*- ").strip() if description else ""
    return {**data, "title": first_line if len(first_line) >= 3 else "Feedback from Discord"}


_PREPARE: dict[type[BaseModel], Callable[[dict[str, Any]], dict[str, Any]]] = {
    Spec: _title_from_description
}


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
        self.rate_limiter = rate_limiter or RateLimiter(config.requests_per_minute)
        self.retry_policy = RetryPolicy(
            attempts=config.attempts_per_model,
            base_delay=config.backoff_base_seconds,
            max_delay=config.backoff_max_seconds,
        )
        self._sleep = sleep
        self.corrections = corrections
        self.method_memory = method_memory or InMemoryMethods()
        self.counters = LLMCounters()
        self._client = openai.AsyncOpenAI(
            api_key=secret,
            base_url=self.endpoint,
            timeout=config.timeout_seconds,
            max_retries=0,
        )
        self._slots = asyncio.Semaphore(max(1, config.max_concurrency))
        self._known: dict[str, StructuredMethod] = {}
        self._negotiating: dict[str, asyncio.Lock] = {}
        self._probe_rounds: dict[str, int] = {}
        self._probe_failures: dict[str, BaseException] = {}
        self._last_latency = 0.0

    @property
    def name(self) -> str:
        """`llm:<primary model>`, bounded to what the database stores."""
        return bounded_engine_name(f"llm:{self.models[0]}")

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far."""
        return self.counters.requests

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
        return ProbeResult(model, method, self._last_latency, verdict)

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
            return await self._with_method(
                model, setting, schema, messages, max_tokens, negotiating=False
            )
        method = await self._recall(model)
        if method is None:
            return await self._negotiate(model, schema, messages, max_tokens)
        try:
            return await self._with_method(
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
        return await self._with_method(model, known, schema, messages, max_tokens, negotiating=True)

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
                result = await self._with_method(
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

    async def _with_method(
        self,
        model: str,
        method: StructuredMethod,
        schema: type[ModelT],
        messages: list[Message],
        max_tokens: int,
        *,
        negotiating: bool,
    ) -> ModelT:
        """One answer with `method`: a request, and one corrective retry if it is invalid."""
        started = time.perf_counter()
        body = request_body(method, schema, messages, system_role=self.config.system_role)
        answer = await self._request(model, method, body, max_tokens, negotiating)
        try:
            result = self._validate(schema, answer)
        except InvalidOutputError as first:
            self.counters.corrective_retries += 1
            logger.info("llm %s answered outside the schema (%s); asking again", model, first)
            retry = {
                **body,
                "messages": [
                    *body["messages"],
                    {"role": "assistant", "content": answer.text[:MAX_ECHOED_ANSWER] or "-"},
                    {"role": "user", "content": CORRECTION.format(error=first)},
                ],
            }
            answer = await self._request(model, method, retry, max_tokens, negotiating)
            try:
                result = self._validate(schema, answer)
            except InvalidOutputError:
                self.counters.malformed += 1
                raise
        self._last_latency = time.perf_counter() - started
        self.counters.methods[method] = self.counters.methods.get(method, 0) + 1
        return result

    def _validate(self, schema: type[ModelT], answer: ParsedAnswer) -> ModelT:
        if answer.data is None:
            raise InvalidOutputError("no JSON object in the answer")
        data = unwrap(answer.data, schema)
        if isinstance(data, dict) and schema in _PREPARE:
            data = _PREPARE[schema](data)
        fitted, changed = fit(data, schema)
        try:
            result = schema.model_validate(fitted)
        except ValidationError as exc:
            raise InvalidOutputError(_brief(exc)) from None
        self.counters.answers += 1
        self.counters.fitted += changed
        self.counters.cut_short += answer.cut_short
        return result

    async def _request(
        self,
        model: str,
        method: StructuredMethod,
        body: dict[str, Any],
        max_tokens: int,
        negotiating: bool,
    ) -> ParsedAnswer:
        """Send one chat completion (retrying transient failures) and read its answer."""

        def retryable(exc: BaseException) -> bool:
            return is_retryable(exc) and not (negotiating and says_unsupported(exc))

        def log_retry(attempt: int, exc: BaseException, delay: float) -> None:
            logger.warning(
                "llm %s attempt %d failed (%s); retrying in %.2fs",
                model,
                attempt,
                failure_reason(exc),
                delay,
            )

        try:
            payload = await retry_async(
                functools.partial(self._send, model, body, max_tokens),
                policy=self.retry_policy,
                should_retry=retryable,
                retry_after=retry_after,
                sleep=self._sleep,
                on_retry=log_retry,
            )
        except Exception as exc:
            if negotiating and says_unsupported(exc):
                raise MethodUnsupportedError(method, exc) from exc
            raise
        return read_answer(payload)

    async def _send(self, model: str, body: dict[str, Any], max_tokens: int) -> Any:
        extra: dict[str, Any] = {}
        if self.config.temperature is not None:
            extra["temperature"] = self.config.temperature
        async with self._slots:
            await self.rate_limiter.acquire()
            self.counters.requests += 1
            try:
                async with asyncio.timeout(self.config.timeout_seconds):
                    raw = await self._client.chat.completions.with_raw_response.create(
                        model=model, max_tokens=max_tokens, **body, **extra
                    )
            except TimeoutError:
                raise _CallTimeoutError(self.config.timeout_seconds) from None
        try:
            return raw.http_response.json()
        except ValueError:
            return None


class _CallTimeoutError(TimeoutError):
    """The call outlasted the per-call timeout (the server kept generating)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:g}s")


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


def _brief(exc: ValidationError) -> str:
    """The first validation errors as one line the model can act on."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "answer"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
