"""The four ways to ask a chat model for structured output, and how each answer is read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel

from agents.engines.llm._messages import Message
from agents.engines.llm._parse import first_json_object
from agents.engines.llm._schema import schema_text, wire_schema

StructuredMethod = Literal["function_calling", "json_schema", "json_mode", "prompt"]
MethodSetting = Literal["auto", "function_calling", "json_schema", "json_mode", "prompt"]
SystemRole = Literal["system", "user"]
#: The order `auto` tries: the most reliable first, the one every chat model supports last.
METHODS: tuple[StructuredMethod, ...] = get_args(StructuredMethod)

SCHEMA_INSTRUCTION = """

Answer with one JSON object and nothing else. It must follow this JSON schema:
```json
{schema}
```"""

CORRECTION = (
    "Your answer was not valid: {error}. Answer again with one JSON object that follows "
    "the schema, every required field filled in."
)


def request_body(
    method: StructuredMethod,
    model: type[BaseModel],
    messages: list[Message],
    *,
    system_role: SystemRole = "system",
) -> dict[str, Any]:
    """The chat-completion arguments that ask for `model` with `method`.

    Args:
        method: How the structure is requested.
        model: The pydantic model the answer must become.
        messages: (role, text) pairs; the first is the system prompt.
        system_role: `user` opens the first user message with the system prompt, for
            chat templates that drop system messages (Gemma's).

    Returns:
        `messages` plus `tools`/`tool_choice` or `response_format` as the method needs.
    """
    name = model.__name__
    if method in ("json_mode", "prompt"):
        instruction = SCHEMA_INSTRUCTION.format(schema=schema_text(model))
        role, text = messages[0]
        messages = [(role, text + instruction), *messages[1:]]
    if system_role == "user" and len(messages) > 1 and messages[0][0] == "system":
        (_, system), (_, first_user) = messages[0], messages[1]
        messages = [("user", f"{system}\n\n{first_user}"), *messages[2:]]
    body: dict[str, Any] = {
        "messages": [{"role": role, "content": text} for role, text in messages]
    }
    if method == "function_calling":
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": (model.__doc__ or name).strip(),
                    "parameters": wire_schema(model),
                },
            }
        ]
        body["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif method == "json_schema":
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": wire_schema(model), "strict": False},
        }
    elif method == "json_mode":
        body["response_format"] = {"type": "json_object"}
    return body


@dataclass(frozen=True)
class ParsedAnswer:
    """One reply: the text the model wrote, the object found in it, and whether it was cut."""

    text: str
    data: dict[str, Any] | None
    cut_short: bool


def read_answer(payload: Any) -> ParsedAnswer:
    """The object a chat-completion payload carries, whatever shape the server chose.

    Tool-call arguments may be a JSON string or an object; without a tool call the content
    is searched for its first JSON object (fenced or not, cut by the token limit or not).

    Args:
        payload: The decoded JSON body of a chat-completion response.

    Returns:
        The model's text and the object found in it (None when there is none).
    """
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not choices or not isinstance(choices[0], dict):
        return ParsedAnswer("", None, False)
    choice = choices[0]
    message = choice.get("message") or {}
    cut_short = choice.get("finish_reason") == "length"
    for call in message.get("tool_calls") or []:
        arguments = (call.get("function") or {}).get("arguments")
        if isinstance(arguments, dict):
            return ParsedAnswer(json.dumps(arguments), arguments, cut_short)
        if isinstance(arguments, str) and arguments.strip():
            data, repaired = first_json_object(arguments)
            return ParsedAnswer(arguments, data, cut_short or repaired)
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    data, repaired = first_json_object(text)
    return ParsedAnswer(text, data, cut_short or repaired)
