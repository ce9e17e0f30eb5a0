"""Quirks of real OpenAI-compatible servers (llama.cpp, Ollama, vLLM), each a switch of the fake."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

#: llama.cpp turns a tool schema into a grammar; a string `maxLength` above this makes the
#: grammar too large ("number of rules ... exceeds sane defaults") and the process dies.
LLAMA_CPP_MAX_STRING_LENGTH = 100
#: Roughly how many characters one token stands for when the fake counts `max_tokens`.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True, kw_only=True)
class Quirks:
    """How the fake departs from the OpenAI API; every switch is off by default.

    Attributes:
        reject_json_schema: `response_format: json_schema` gets HTTP 500, as from
            llama-cpp-python's server.
        reject_tools: a request with `tools` gets HTTP 400 "does not support tools", as from
            Ollama serving a model without tool support.
        abort_on_string_length_above: the connection is dropped without an answer when a
            tool schema has a string `maxLength` above this (llama.cpp's grammar: 100).
        tool_arguments: tool-call arguments as a JSON `string` (the OpenAI API) or as an
            `object` (some servers).
        fenced_content: the JSON comes in `content` inside a ```json code fence, with no
            tool call, whatever the request asked for.
        runaway: the model never stops by itself: whitespace follows the answer until
            `max_tokens` is used up (`finish_reason: length`); without `max_tokens` the
            request hangs like a generation that fills the whole context.
    """

    reject_json_schema: bool = False
    reject_tools: bool = False
    abort_on_string_length_above: int | None = None
    tool_arguments: Literal["string", "object"] = "string"
    fenced_content: bool = False
    runaway: bool = False


#: The switches by the names the tests and the command line use.
NAMED_QUIRKS: dict[str, Quirks] = {
    "reject_json_schema": Quirks(reject_json_schema=True),
    "reject_tools": Quirks(reject_tools=True),
    "abort_on_long_strings": Quirks(abort_on_string_length_above=LLAMA_CPP_MAX_STRING_LENGTH),
    "tool_arguments_object": Quirks(tool_arguments="object"),
    "fenced_content": Quirks(fenced_content=True),
    "runaway": Quirks(runaway=True),
}


def refusal(quirks: Quirks, body: dict[str, Any]) -> tuple[int, str] | None:
    """The HTTP status and message a quirky server answers `body` with, if it refuses it."""
    response_format = body.get("response_format") or {}
    if quirks.reject_json_schema and response_format.get("type") == "json_schema":
        return 500, (
            "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', "
            "'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\", "
            "'input': 'json_schema'}"
        )
    if quirks.reject_tools and body.get("tools"):
        return 400, f"{body.get('model', 'model')} does not support tools"
    return None


def aborts(quirks: Quirks, body: dict[str, Any]) -> bool:
    """Whether the server drops the connection on `body` (a tool schema it cannot compile)."""
    limit = quirks.abort_on_string_length_above
    if limit is None:
        return False
    for tool in body.get("tools") or []:
        for node in _walk((tool.get("function") or {}).get("parameters")):
            length = node.get("maxLength")
            if isinstance(length, int) and length > limit:
                return True
    return False


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def max_tokens(body: dict[str, Any]) -> int | None:
    """The completion budget the client asked for (`max_tokens` or `max_completion_tokens`)."""
    value = body.get("max_tokens", body.get("max_completion_tokens"))
    return value if isinstance(value, int) and value > 0 else None


def run_away(payload: str, budget: int) -> str:
    """`payload` followed by whitespace until `budget` tokens are used, cut at the budget."""
    size = budget * CHARS_PER_TOKEN
    return (payload + "\n" * max(0, size - len(payload)))[:size]


def reshape(message: dict[str, Any], quirks: Quirks) -> dict[str, Any]:
    """Apply the answer-shaping quirks to an assistant message."""
    calls = message.get("tool_calls")
    if quirks.fenced_content:
        payload = calls[0]["function"]["arguments"] if calls else message.get("content") or ""
        return {"role": "assistant", "content": f"```json\n{payload}\n```", "refusal": None}
    if calls and quirks.tool_arguments == "object":
        for call in calls:
            with contextlib.suppress(json.JSONDecodeError):
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return message
