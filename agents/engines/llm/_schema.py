"""Schemas a small server can follow, and answers fitted to the full model after parsing.

Servers such as llama.cpp compile the schema into a grammar: a string `maxLength` of 2000
makes that grammar explode. So the schema sent keeps only types, enums, descriptions and
required fields; lengths and ranges are enforced here, by truncating and clamping.
"""

from __future__ import annotations

import functools
import json
from typing import Any, cast, get_args, get_origin

import annotated_types
from pydantic import BaseModel

#: Keywords a grammar-based server may choke on; the model's limits are applied after parsing.
CONSTRAINT_KEYWORDS = frozenset(
    {
        "maxLength",
        "minLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "maxItems",
        "minItems",
        "uniqueItems",
        "title",
        "default",
    }
)
_CHARS_PER_LIST_ITEM = 100
#: Wrappers small models put around the object they were asked for.
_WRAPPER_KEYS = ("arguments", "parameters", "properties", "answer", "result", "data")


@functools.cache
def wire_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of `model` with references inlined and constraints removed.

    Args:
        model: The pydantic model the answer must become.

    Returns:
        A plain schema: `type`, `enum`, `anyOf`, `items`, `properties`, `required`,
        `description` (and `additionalProperties: false` on objects).
    """
    full = model.model_json_schema()
    stripped: dict[str, Any] = _strip(full, full.get("$defs", {}))
    properties = stripped.get("properties", {})
    order = sorted(properties, key=lambda name: _expected_size(model, name))
    stripped["properties"] = {name: properties[name] for name in order}
    return stripped


def _expected_size(model: type[BaseModel], name: str) -> int:
    """How long a field's value may grow: short fields go first in the schema.

    Grammar-driven servers write the fields in schema order, so an answer cut off by the
    token limit loses only the long text at the end, which fitting can keep as it is.
    """
    field = model.model_fields[name]
    for limit in field.metadata:
        if isinstance(limit, annotated_types.MaxLen):
            is_list = get_origin(field.annotation) is list
            return limit.max_length * (_CHARS_PER_LIST_ITEM if is_list else 1)
    return 0


def _strip(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_strip(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _strip(defs[ref.removeprefix("#/$defs/")], defs)
    stripped: dict[str, Any] = {}
    for key, value in node.items():
        if key in CONSTRAINT_KEYWORDS or key == "$defs":
            continue
        if key == "properties":
            stripped[key] = {name: _strip(prop, defs) for name, prop in value.items()}
        else:
            stripped[key] = _strip(value, defs)
    if stripped.get("type") == "object":
        stripped.setdefault("additionalProperties", False)
    return stripped


def schema_text(model: type[BaseModel]) -> str:
    """The wire schema as compact JSON, for prompts that carry it as text."""
    return json.dumps(wire_schema(model), ensure_ascii=False, separators=(",", ":"))


def unwrap(data: Any, model: type[BaseModel]) -> Any:
    """The object itself when a model nested it under a wrapper key or its own name."""
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    for _ in range(2):
        if not isinstance(data, dict) or required & data.keys():
            return data
        keys = [*_WRAPPER_KEYS, model.__name__, model.__name__.lower()]
        inner = next((data[k] for k in keys if isinstance(data.get(k), dict)), None)
        if inner is None and len(data) == 1:
            inner = next(iter(data.values()))
        if not isinstance(inner, dict):
            return data
        data = inner
    return data


def fit(data: Any, model: type[BaseModel]) -> tuple[Any, bool]:
    """`data` with every field of `model` brought within the model's limits.

    Strings are cut to their `max_length`, lists to theirs, numbers clamped into their
    range, enum strings matched case-insensitively, `null` lists made empty. Anything the
    model would still reject (a missing field, a wrong type) is left for validation.

    Args:
        data: The parsed answer.
        model: The pydantic model it must become.

    Returns:
        The fitted mapping (`data` itself when it is no mapping), and whether anything had
        to change.
    """
    if not isinstance(data, dict):
        return data, False
    fitted = dict(data)
    for name, field in model.model_fields.items():
        if name not in fitted:
            continue
        value = fitted[name]
        if value is None and not field.is_required() and field.default is not None:
            fitted.pop(name)
            continue
        fitted[name] = _fit_value(value, field.metadata, field.annotation)
    return fitted, fitted != data


def _fit_value(value: Any, metadata: list[Any], annotation: Any) -> Any:
    choices = _literal_choices(annotation)
    if choices and isinstance(value, str) and value not in choices:
        value = next((c for c in choices if c.lower() == value.strip().lower()), value)
    for limit in metadata:
        if isinstance(limit, annotated_types.MaxLen) and isinstance(value, str | list):
            value = value[: limit.max_length]
            if isinstance(value, str):
                value = value.rstrip()
        if isinstance(limit, annotated_types.Ge | annotated_types.Le) and isinstance(value, str):
            value = _number(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(limit, annotated_types.Ge):
            value = max(value, cast(float, limit.ge))
        if isinstance(limit, annotated_types.Le):
            value = min(value, cast(float, limit.le))
    return value


def _number(text: str) -> float | str:
    try:
        return float(text.strip().rstrip("%")) / (100 if text.strip().endswith("%") else 1)
    except ValueError:
        return text


def _literal_choices(annotation: Any) -> tuple[str, ...]:
    args = get_args(annotation)
    return tuple(arg for arg in args if isinstance(arg, str))
