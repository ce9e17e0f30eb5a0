"""How the fake OpenAI server computes its answers: a keyword rule shaped to the client's schema."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox._openai_quirks import Quirks, max_tokens, reshape, run_away

_JSON_FENCE = re.compile(r"```json\s*\n(.*?)\n```", re.DOTALL)
_FEEDBACK_BLOCK = re.compile(r"<feedback>\n?(.*?)\n?</feedback>", re.DOTALL)
_ALLOWED_LABELS = re.compile(r"<allowed_labels>(.*?)</allowed_labels>", re.DOTALL)
_BUG_WORDS = re.compile(
    r"\b(crash\w*|error\w*|broken|bug\w*|fail\w*|exception|freez\w*|not working|"
    r"doesn'?t work|stopped working)\b",
    re.IGNORECASE,
)
_FEATURE_WORDS = re.compile(
    r"\b(add|adding|feature|support for|would be nice|please make|allow|option to)\b",
    re.IGNORECASE,
)
_SEVERE_WORDS = re.compile(r"\b(crash\w*|data loss|lost (all|my)|security)\b", re.IGNORECASE)
_PRAISE_WORDS = re.compile(r"\b(thanks?|thank you|love|great|awesome|nice work|\+1)\b", re.I)
_WORDS = re.compile(r"[^\s]+")


@dataclass
class _Verdict:
    """What the keyword rule makes of the feedback."""

    kind: str
    severity: str
    confidence: float
    actionable: bool
    title: str
    feedback: str
    labels: list[str] = field(default_factory=list)


def content_text(content: Any) -> str:
    """Text of a message content (a string or a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """Text of the last user message."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def _feedback_message(messages: list[dict[str, Any]]) -> str:
    """The last user message that carries a feedback block (a corrective retry follows it)."""
    for message in reversed(messages):
        text = content_text(message.get("content"))
        if message.get("role") == "user" and _FEEDBACK_BLOCK.search(text):
            return text
    return last_user_text(messages)


def _verdict(user_text: str) -> _Verdict:
    """The keyword rule: crash-like words mean bug, `add` means feature, `?` a question."""
    blocks = _FEEDBACK_BLOCK.findall(user_text)  # the last: instructions may name the tags
    feedback = blocks[-1] if blocks else user_text
    feedback = feedback.replace("&lt;", "<").replace("&gt;", ">").strip()
    if _BUG_WORDS.search(feedback):
        kind, confidence = "bug", 0.9
    elif _FEATURE_WORDS.search(feedback):
        kind, confidence = "feature", 0.85
    elif "?" in feedback:
        kind, confidence = "question", 0.8
    else:
        kind, confidence = "question", 0.4
    severity = "low"
    if kind == "bug":
        severity = "high" if _SEVERE_WORDS.search(feedback) else "medium"
    praise_only = confidence < 0.5 and bool(_PRAISE_WORDS.search(feedback))
    words = _WORDS.findall(feedback)[:8]
    title = " ".join(words).rstrip(".!?,;:")[:80].strip()
    if len(title) < 3:
        title = f"Feedback: {title or 'untitled'}"[:80]
    labels_match = _ALLOWED_LABELS.search(user_text)
    allowed = (
        [x.strip() for x in labels_match.group(1).split(",") if x.strip()] if labels_match else []
    )
    wanted = {"bug": ["bug"], "feature": ["feature", "enhancement"], "question": ["question"]}
    labels = [label for label in allowed if label.lower() in wanted[kind]]
    return _Verdict(kind, severity, confidence, not praise_only, title, feedback, labels)


def _field_values(verdict: _Verdict) -> dict[str, Any]:
    first_sentence = re.split(r"(?<=[.!?])\s+|\n", verdict.feedback, maxsplit=1)[0]
    feature = verdict.kind == "feature"
    bug = verdict.kind == "bug"
    return {
        "kind": verdict.kind,
        "severity": verdict.severity,
        "confidence": verdict.confidence,
        "actionable": verdict.actionable,
        "reasoning": f"Keyword rule: the feedback reads as a {verdict.kind} "
        f"({'actionable' if verdict.actionable else 'not actionable'}).",
        "title": verdict.title,
        "description": "Reported feedback:\n\n"
        + "\n".join(f"> {line}" for line in verdict.feedback[:4000].splitlines()),
        "steps_to_reproduce": [],
        "expected_behavior": None,
        "actual_behavior": first_sentence[:4000] if bug else None,
        "acceptance_criteria": [f"{verdict.title} is possible"] if feature else [],
        "labels": verdict.labels,
    }


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node.get(part, {})
        return _resolve(node, root)
    return schema


def _value_for(schema: dict[str, Any], root: dict[str, Any], hint: Any, has_hint: bool) -> Any:
    """A value valid for `schema`, preferring the keyword rule's `hint` when it fits."""
    schema = _resolve(schema, root)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        if (
            has_hint
            and hint is None
            and any(_resolve(o, root).get("type") == "null" for o in options)
        ):
            return None
        non_null = [o for o in options if _resolve(o, root).get("type") != "null"]
        return _value_for((non_null or options)[0], root, hint, has_hint)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return hint if has_hint and hint in schema["enum"] else schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return _object_for(schema, root, {})
    if kind == "array":
        items = hint if has_hint and isinstance(hint, list) else []
        items = items[: schema.get("maxItems", len(items))]
        item_schema = schema.get("items", {})
        values = [_value_for(item_schema, root, item, True) for item in items]
        while len(values) < schema.get("minItems", 0):
            values.append(_value_for(item_schema, root, None, False))
        return values
    if kind in ("number", "integer"):
        low, high = schema.get("minimum", 0), schema.get("maximum", 1)
        value = hint if has_hint and isinstance(hint, int | float) else (low + high) / 2
        value = min(max(value, low), high)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return hint if has_hint and isinstance(hint, bool) else True
    if kind == "null":
        return None
    text = hint if has_hint and isinstance(hint, str) else "n/a"
    text = text[: schema.get("maxLength", len(text))]
    return text.ljust(schema.get("minLength", 0), ".")


def _object_for(schema: dict[str, Any], root: dict[str, Any], hints: dict[str, Any]) -> Any:
    properties = schema.get("properties", {})
    return {
        name: _value_for(prop, root, hints.get(name), name in hints)
        for name, prop in properties.items()
    }


def _answer(schema: dict[str, Any], user_text: str, overrides: Mapping[str, Any]) -> Any:
    hints = _field_values(_verdict(user_text))
    answer = _object_for(_resolve(schema, schema), schema, hints)
    answer.update(overrides)
    return answer


def _schema_in_prompt(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A JSON schema the client wrote into its messages (json_mode and prompt methods)."""
    for message in messages:
        for block in _JSON_FENCE.findall(content_text(message.get("content"))):
            try:
                schema = json.loads(block)
            except json.JSONDecodeError:
                continue
            if isinstance(schema, dict) and "properties" in schema:
                return schema
    return None


def completion(
    body: dict[str, Any],
    behaviour: str,
    overrides: Mapping[str, Any],
    quirks: Quirks | None = None,
) -> Any:
    """The chat-completion payload for an `ok`, `malformed`, `invalid` or `empty` answer.

    A schema comes from the forced tool, a `json_schema` response format, or (json_mode and
    the prompt method) a ```json block in the messages; a plain-text request that carries
    one gets the JSON after a sentence of chatter, as chat models answer.
    """
    quirks = quirks or Quirks()
    messages = list(body.get("messages", []))
    user_text = _feedback_message(messages)
    tool = _chosen_tool(body)
    response_format = body.get("response_format") or {}
    schema: dict[str, Any] | None
    if tool is not None:
        schema = tool.get("parameters", {})
    else:
        schema = (response_format.get("json_schema") or {}).get("schema")
    chatty = False
    if schema is None and tool is None:
        schema = _schema_in_prompt(messages)
        chatty = schema is not None and response_format.get("type") != "json_object"
    if behaviour == "malformed":
        payload = 'Sure! Here is the JSON you asked for: {"kind": bug, "severity"'
    elif behaviour == "invalid":
        payload = json.dumps({"verdict": "ignored the schema", "confidence": 7})
    elif behaviour == "empty":
        payload = ""
    elif schema is not None:
        payload = json.dumps(_answer(schema, user_text, overrides))
        if chatty:
            payload = f"Here is the verdict you asked for:\n{payload}\nHope this helps!"
    else:
        payload = _verdict(user_text).title
    finish_reason = "stop"
    budget = max_tokens(body)
    if quirks.runaway and budget is not None and behaviour != "empty":
        payload, finish_reason = run_away(payload, budget), "length"
    message: dict[str, Any] = {"role": "assistant", "content": payload, "refusal": None}
    if tool is not None and behaviour != "empty":
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": tool.get("name", "answer"), "arguments": payload},
            }
        ]
        finish_reason = "tool_calls" if finish_reason == "stop" else finish_reason
    message = reshape(message, quirks)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model", "")),
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": len(user_text) // 4,
            "completion_tokens": len(payload) // 4,
            "total_tokens": (len(user_text) + len(payload)) // 4,
        },
    }


def _chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function the client forces (or the only one it offers), if any."""
    tools: list[dict[str, Any]] = [
        t.get("function", {}) for t in body.get("tools") or [] if t.get("type") == "function"
    ]
    if not tools:
        return None
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        for tool in tools:
            if tool.get("name") == wanted:
                return tool
    if choice == "none":
        return None
    return tools[0]
