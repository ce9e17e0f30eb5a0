"""Structured logging: JSON or console lines, an item-id correlation field, secrets redacted."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal

current_item_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "current_item_id", default=None
)

_SECRET_PATTERNS = [
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bot|bearer|token)?\s*)([^\s'\",]+)"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password)['\"]?\s*[:=]\s*['\"]?)([^\s'\",]+)"),
    re.compile(r"\b(sk-[A-Za-z0-9_-]{8})[A-Za-z0-9_-]+"),
    re.compile(r"\b(gh[pousr]_)[A-Za-z0-9]{20,}"),
    re.compile(r"\b(github_pat_)[A-Za-z0-9_]{20,}"),
    # Discord bot tokens: base64 user id, timestamp, HMAC.
    re.compile(r"\b([A-Za-z0-9_-]{23,28})\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"),
]
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact this exact value from every log line from now on."""
    if value and len(value) >= 6:
        _known_secrets.add(value)


def redact(text: str) -> str:
    """Replace known secrets and anything shaped like a token with `[redacted]`."""
    for secret in _known_secrets:
        text = text.replace(secret, "[redacted]")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m.group(1)}[redacted]", text)
    return text


@contextmanager
def item_context(item_id: int | None) -> Iterator[None]:
    """Tag every log line inside the block with `item_id`."""
    token = current_item_id.set(item_id)
    try:
        yield
    finally:
        current_item_id.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "item_id"):
            record.item_id = current_item_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        item_id = getattr(record, "item_id", None)
        if item_id is not None:
            entry["item_id"] = item_id
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """Readable single lines for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(item)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        item_id = getattr(record, "item_id", None)
        record.item = f" [item {item_id}]" if item_id is not None else ""
        return redact(super().format(record))


def configure_logging(level: str = "INFO", fmt: Literal["json", "console"] = "console") -> None:
    """Install our handler on the root logger (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_iterateswarm", False):
            root.removeHandler(existing)
    handler._iterateswarm = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("discord.gateway", "httpx", "chromadb", "sentence_transformers", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
