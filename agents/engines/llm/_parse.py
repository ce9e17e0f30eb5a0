"""The first JSON object in a model's text: after chatter, inside a code fence, or cut short."""

from __future__ import annotations

import json
from typing import Any

_CLOSERS = {"{": "}", "[": "]"}


def first_json_object(text: str) -> tuple[dict[str, Any] | None, bool]:
    """Find and parse the first JSON object in `text`.

    A code fence or a sentence around the object does not matter. An object cut off by
    the token limit (an open string, array or object at the end of the text) is closed
    where it stops, after dropping a half-written key or value separator.

    Args:
        text: What the model wrote.

    Returns:
        The object (None when there is none), and whether it had to be closed.
    """
    start = text.find("{")
    while start != -1:
        end, stack, in_string = _scan(text, start)
        if end is not None:
            try:
                value = json.loads(text[start : end + 1], strict=False)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                return value, False
        else:
            repaired = _close(text[start:], stack, in_string)
            if repaired is not None:
                return repaired, True
        start = text.find("{", start + 1)
    return None, False


def _scan(text: str, start: int) -> tuple[int | None, list[str], bool]:
    """Index of the brace that closes the object at `start`, else the open brackets left."""
    stack: list[str] = []
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char in _CLOSERS:
            stack.append(_CLOSERS[char])
        elif char in "}]":
            if not stack or stack.pop() != char:
                return None, [], False
            if not stack:
                return index, [], False
    return None, stack, in_string


def _close(fragment: str, stack: list[str], in_string: bool) -> dict[str, Any] | None:
    """Close an object the text stopped inside of; None when no object comes of it."""
    if not stack:
        return None
    body = fragment.rstrip()
    if in_string:
        body = body.removesuffix("\\") + '"'
    for _ in range(8):
        candidate = body + "".join(reversed(stack))
        try:
            value = json.loads(candidate, strict=False)
        except json.JSONDecodeError:
            body = _drop_unfinished(body)
            continue
        return value if isinstance(value, dict) else None
    return None


def _drop_unfinished(body: str) -> str:
    """Cut one thing from the end: a separator, a trailing string, or a half-written literal."""
    body = body.rstrip()
    if body.endswith((",", ":")):
        return body[:-1]
    if body.endswith('"'):
        # A string just closed: a key with no value yet, or a complete value. Dropping from
        # its opening quote removes the key; a value is then dropped with its key next round.
        opening = body.rfind('"', 0, len(body) - 1)
        while opening > 0 and body[opening - 1] == "\\":
            opening = body.rfind('"', 0, opening - 1)
        return body[:opening] if opening >= 0 else body
    cut = max(body.rfind(","), body.rfind("{"), body.rfind("["))
    return body[: cut + 1] if cut >= 0 else body
