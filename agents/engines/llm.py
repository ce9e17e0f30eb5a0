"""Triage through an OpenAI-compatible chat model: rate limited, retried, cascading over models."""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import openai
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, SecretStr

from agents.engines.base import KINDS, Classification, Spec
from agents.engines.corrections import CorrectionMatch, CorrectionMemory
from agents.engines.resilience import RateLimiter, RetryPolicy, Sleep, retry_async
from agents.triage import prompts

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
StructuredMethod = Literal["function_calling", "json_schema"]

_DATA_TAG = re.compile(
    rf"<(\s*/?\s*(?:{prompts.FEEDBACK_TAG}|{prompts.ALLOWED_LABELS_TAG}"
    rf"|{prompts.CORRECTIONS_TAG}|example)\b[^>]*)>",
    re.IGNORECASE,
)
MAX_FEEDBACK_CHARS = 12000
MAX_EXAMPLE_CHARS = 600
FEW_SHOT_EXAMPLES = 3
FEW_SHOT_MIN_SIMILARITY = 0.5
MAX_LABELS = 10


class LLMUnavailableError(RuntimeError):
    """Every model of the cascade failed; `reason` is short enough to show maintainers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidOutputError(ValueError):
    """The model answered, but not with the requested structure."""


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
    structured_output_method: StructuredMethod = "function_calling"
    temperature: float | None = 0.0


def delimit_feedback(text: str) -> str:
    """Escape anything in user text that could close or open one of the prompt's data blocks.

    Args:
        text: Raw feedback text.

    Returns:
        The text with `<feedback>`-like tags turned into `&lt;feedback&gt;`, trimmed to
        `MAX_FEEDBACK_CHARS`.
    """
    escaped = _DATA_TAG.sub(lambda m: f"&lt;{m.group(1)}&gt;", text)
    return escaped[:MAX_FEEDBACK_CHARS]


def corrections_block(examples: Sequence[CorrectionMatch]) -> str:
    """The few-shot block of maintainer corrections ('' without examples)."""
    if not examples:
        return ""
    lines = [
        prompts.CORRECTION_EXAMPLE.format(
            kind=example.kind or "unknown",
            severity=example.severity or "unknown",
            rejected="true" if example.rejected else "false",
            text=delimit_feedback(" ".join(example.text.split())[:MAX_EXAMPLE_CHARS]),
        )
        for example in examples
    ]
    return prompts.CORRECTIONS_BLOCK.format(examples="\n".join(lines))


def classification_messages(
    text: str, kind_hint: str | None, examples: Sequence[CorrectionMatch] = ()
) -> list[tuple[str, str]]:
    """System and user messages for a classification call (with correction examples)."""
    hint = prompts.KIND_HINT_LINE.format(kind_hint=kind_hint) if kind_hint in KINDS else ""
    user = prompts.CLASSIFY_USER_TEMPLATE.format(
        corrections_block=corrections_block(examples),
        kind_hint_line=hint,
        feedback=delimit_feedback(text),
    )
    return [("system", prompts.CLASSIFY_SYSTEM_PROMPT), ("user", user)]


def spec_messages(
    text: str, classification: Classification, labels: Sequence[str]
) -> list[tuple[str, str]]:
    """System and user messages for a spec-drafting call."""
    allowed = ", ".join(delimit_feedback(label) for label in labels)
    user = prompts.SPEC_USER_TEMPLATE.format(
        kind=classification.kind,
        severity=classification.severity,
        allowed_labels=allowed,
        feedback=delimit_feedback(text),
    )
    return [("system", prompts.SPEC_SYSTEM_PROMPT), ("user", user)]


def filter_labels(proposed: Sequence[str], allowed: Sequence[str]) -> list[str]:
    """Keep proposed labels that are allowed (case-insensitive), in the allowed spelling.

    Args:
        proposed: Labels the model chose.
        allowed: The only labels the spec may carry.

    Returns:
        At most `MAX_LABELS` allowed labels, without duplicates.
    """
    by_key = {label.strip().lower(): label for label in allowed}
    kept: list[str] = []
    for label in proposed:
        match = by_key.get(label.strip().lower())
        if match is not None and match not in kept:
            kept.append(match)
    return kept[:MAX_LABELS]


def failure_reason(exc: BaseException) -> str:
    """A short, secret-free description of why a call failed."""
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited (429)"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"not authorised ({exc.status_code})"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, ValueError | openai.LengthFinishReasonError):
        return "invalid output"
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return "content filtered"
    return type(exc).__name__


def _is_fatal(exc: BaseException) -> bool:
    """Failures no other model or attempt can fix (a bad key)."""
    return isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError)


def _skips_model(exc: BaseException) -> bool:
    """Failures that retrying the same model will not fix, but another model might."""
    return isinstance(exc, openai.NotFoundError | openai.BadRequestError) or (
        isinstance(exc, openai.APIStatusError) and exc.status_code == 422
    )


def _is_retryable(exc: BaseException) -> bool:
    if _is_fatal(exc) or _skips_model(exc):
        return False
    return isinstance(
        exc,
        openai.APIConnectionError
        | openai.APIStatusError
        | openai.LengthFinishReasonError
        | openai.ContentFilterFinishReasonError
        | ValueError,
    )


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if (millis := headers.get("retry-after-ms")) is not None:
            return float(millis) / 1000
        if (seconds := headers.get("retry-after")) is not None:
            return float(seconds)
    except ValueError:
        return None
    return None


class LLMEngine:
    """`TriageEngine` backed by an OpenAI-compatible chat model with structured output.

    Each call tries `models[0]` up to `attempts_per_model` times with exponential backoff
    (honouring Retry-After), then each fallback model; every HTTP request first takes a
    token from the rate limiter.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        rate_limiter: RateLimiter | None = None,
        sleep: Sleep = asyncio.sleep,
        corrections: CorrectionMemory | None = None,
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
        self.rate_limiter = rate_limiter or RateLimiter(config.requests_per_minute)
        self.retry_policy = RetryPolicy(
            attempts=config.attempts_per_model,
            base_delay=config.backoff_base_seconds,
            max_delay=config.backoff_max_seconds,
        )
        self._sleep = sleep
        self.corrections = corrections
        self._api_key = SecretStr(secret)
        self._chat_models: dict[str, ChatOpenAI] = {}
        self._runnables: dict[tuple[str, str], Runnable[Any, Any]] = {}
        self.requests_made = 0

    @property
    def name(self) -> str:
        """`llm:<primary model>`."""
        return f"llm:{self.models[0]}"

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
            The model's validated verdict.

        Raises:
            LLMUnavailableError: Every model failed.
        """
        examples = await self.few_shot_examples(text, guild_id)
        return await self._structured(
            Classification, classification_messages(text, kind_hint, examples)
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
            The validated spec, labels filtered to the allowed list.

        Raises:
            LLMUnavailableError: Every model failed.
        """
        spec = await self._structured(Spec, spec_messages(text, classification, labels))
        return spec.model_copy(update={"labels": filter_labels(spec.labels, labels)})

    async def _structured(self, schema: type[ModelT], messages: list[tuple[str, str]]) -> ModelT:
        """Run the cascade until one model returns a valid `schema` instance."""
        reasons: list[str] = []
        last_error: Exception | None = None
        for model in self.models:
            try:
                return await self._with_retries(model, schema, messages)
            except Exception as exc:
                if not (_is_fatal(exc) or _skips_model(exc) or _is_retryable(exc)):
                    raise
                reason = failure_reason(exc)
                logger.warning("llm %s gave up: %s", model, reason)
                if _is_fatal(exc):
                    raise LLMUnavailableError(reason) from exc
                reasons.append(reason)
                last_error = exc
        summary = reasons[-1] if len(set(reasons)) == 1 else "; ".join(reasons)
        raise LLMUnavailableError(summary) from last_error

    async def _with_retries(
        self, model: str, schema: type[ModelT], messages: list[tuple[str, str]]
    ) -> ModelT:
        def log_retry(attempt: int, exc: BaseException, delay: float) -> None:
            logger.warning(
                "llm %s attempt %d failed (%s); retrying in %.2fs",
                model,
                attempt,
                failure_reason(exc),
                delay,
            )

        return await retry_async(
            functools.partial(self._attempt, model, schema, messages),
            policy=self.retry_policy,
            should_retry=_is_retryable,
            retry_after=_retry_after,
            sleep=self._sleep,
            on_retry=log_retry,
        )

    async def _attempt(
        self, model: str, schema: type[ModelT], messages: list[tuple[str, str]]
    ) -> ModelT:
        await self.rate_limiter.acquire()
        self.requests_made += 1
        result = await self._runnable(model, schema).ainvoke(messages)
        if isinstance(result, schema):
            return result
        if isinstance(result, dict):
            return schema.model_validate(result)
        raise InvalidOutputError(f"{model} returned no {schema.__name__}")

    def _runnable(self, model: str, schema: type[BaseModel]) -> Runnable[Any, Any]:
        key = (model, schema.__name__)
        if key not in self._runnables:
            self._runnables[key] = self._chat_model(model).with_structured_output(
                schema, method=self.config.structured_output_method
            )
        return self._runnables[key]

    def _chat_model(self, model: str) -> ChatOpenAI:
        if model not in self._chat_models:
            self._chat_models[model] = ChatOpenAI(
                model=model,
                api_key=self._api_key,
                base_url=self.config.base_url,
                timeout=self.config.timeout_seconds,
                max_retries=0,
                temperature=self.config.temperature,
            )
        return self._chat_models[model]
