"""One structured call to the server: the request, its bounds, and reading the answer."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai
from pydantic import BaseModel, ValidationError

from agents.engines.base import Spec
from agents.engines.llm._config import LLMConfig
from agents.engines.llm._errors import (
    InvalidOutputError,
    MethodUnsupportedError,
    failure_reason,
    is_retryable,
    retry_after,
    says_unsupported,
)
from agents.engines.llm._messages import Message
from agents.engines.llm._methods import (
    CORRECTION,
    ParsedAnswer,
    StructuredMethod,
    read_answer,
    request_body,
)
from agents.engines.llm._schema import fit, unwrap
from agents.engines.resilience import RateLimiter, RetryPolicy, Sleep, retry_async

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
MAX_ECHOED_ANSWER = 2000


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


class StructuredCaller:
    """Sends chat completions to one endpoint, at most `max_concurrency` at once, each after
    a token of the rate limiter, bounded by `max_tokens` and the per-call timeout; retries
    transient failures and reads the answer into the schema."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        endpoint: str,
        api_key: str,
        rate_limiter: RateLimiter,
        sleep: Sleep,
    ) -> None:
        self.config = config
        self.endpoint = endpoint
        self.rate_limiter = rate_limiter
        self.retry_policy = RetryPolicy(
            attempts=config.attempts_per_model,
            base_delay=config.backoff_base_seconds,
            max_delay=config.backoff_max_seconds,
        )
        self.counters = LLMCounters()
        self.last_latency = 0.0
        self._sleep = sleep
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=endpoint, timeout=config.timeout_seconds, max_retries=0
        )
        self._slots = asyncio.Semaphore(max(1, config.max_concurrency))

    async def ask(
        self,
        model: str,
        method: StructuredMethod,
        schema: type[ModelT],
        messages: list[Message],
        max_tokens: int,
        *,
        negotiating: bool,
    ) -> ModelT:
        """One answer with `method`: a request, and one corrective retry if it is invalid.

        Raises:
            InvalidOutputError: The answer did not fit the schema, twice.
            MethodUnsupportedError: While `negotiating`, the server refused the method.
        """
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
        self.last_latency = time.perf_counter() - started
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


def _brief(exc: ValidationError) -> str:
    """The first validation errors as one line the model can act on."""
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error["loc"]) or "answer"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
