"""What went wrong with a call: short reasons, and which failures a retry or a method fixes."""

from __future__ import annotations

import re
from collections.abc import Sequence

import openai

#: Words of an error that says the server does not support a structured-output method.
_UNSUPPORTED = re.compile(
    r"not support|unsupported|not implemented|unrecognized|"
    r"tool|function|response_format|json_schema|json_object|grammar|schema",
    re.IGNORECASE,
)

_DROPPED = frozenset({"RemoteProtocolError", "ReadError", "ServerDisconnectedError"})


class InvalidOutputError(ValueError):
    """The model answered, but not with the requested structure (after one corrective retry)."""


class MethodUnsupportedError(RuntimeError):
    """The server refused a structured-output method (or died compiling its schema)."""

    def __init__(self, method: str, cause: BaseException) -> None:
        super().__init__(f"{method} unsupported ({failure_reason(cause)})")
        self.method = method
        self.cause = cause


class LLMUnavailableError(RuntimeError):
    """Every model of the cascade failed.

    Attributes:
        reason: Short enough to show maintainers (no secrets, no URLs).
        causes: `(model, reason)` for each model tried, in order.
        server_failure: True when a server or transport failure (timeout, connection,
            HTTP error) was among the causes; False when every model answered, only not
            usably. The circuit breaker counts the former only.
    """

    def __init__(
        self,
        reason: str,
        *,
        causes: Sequence[tuple[str, str]] = (),
        server_failure: bool = True,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.causes = list(causes)
        self.server_failure = server_failure


def failure_reason(exc: BaseException) -> str:
    """A short, secret-free description of why a call failed."""
    if isinstance(exc, MethodUnsupportedError):
        return str(exc)
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection dropped" if dropped_connection(exc) else "connection failed"
    if isinstance(exc, openai.RateLimitError):
        return "rate limited (429)"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"not authorised ({exc.status_code})"
    if isinstance(exc, openai.NotFoundError):
        return "model not found (404)"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, ValueError):
        return "invalid output"
    return type(exc).__name__


def dropped_connection(exc: BaseException) -> bool:
    """The server closed the connection mid-request (it crashed), rather than refusing it."""
    if not isinstance(exc, openai.APIConnectionError) or isinstance(exc, openai.APITimeoutError):
        return False
    cause = exc.__cause__ or exc.__context__
    # By name: the client's transport is httpx or its fork, whose classes share these names.
    return type(cause).__name__ in _DROPPED


def says_unsupported(exc: BaseException) -> bool:
    """Whether a failure of a method's request means the server lacks that method.

    A 4xx (other than auth, rate limit, or a missing model) or a 5xx whose message talks
    about tools, schemas, formats or support, or a connection the server dropped.
    """
    if dropped_connection(exc):
        return True
    if not isinstance(exc, openai.APIStatusError) or is_fatal(exc):
        return False
    if exc.status_code in (404, 408, 409, 429) or exc.status_code < 400:
        return False
    return bool(_UNSUPPORTED.search(_error_message(exc)))


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message", inner.get("detail", "")))
        return str(inner)
    return str(body or exc.message)


def is_fatal(exc: BaseException) -> bool:
    """Failures no other model or attempt can fix (a bad key)."""
    return isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError)


def skips_model(exc: BaseException) -> bool:
    """Failures that retrying the same model will not fix, but another model might."""
    return isinstance(
        exc, openai.NotFoundError | openai.BadRequestError | MethodUnsupportedError
    ) or (isinstance(exc, openai.APIStatusError) and exc.status_code == 422)


def is_retryable(exc: BaseException) -> bool:
    """Transient server or transport failures worth another attempt on the same model."""
    if is_fatal(exc) or skips_model(exc):
        return False
    return isinstance(exc, openai.APIConnectionError | openai.APIStatusError | TimeoutError)


def retry_after(exc: BaseException) -> float | None:
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
