"""Modal submits answered from the interaction alone, like the persistent buttons.

discord.py keeps an open modal in memory only after the request that showed it returns, so
a submit that arrives first, or after a restart, would find no modal and go unanswered. The
cogs therefore give each modal a custom_id that names what it is for, leave the modal's own
`on_submit` empty, and handle every submit in `on_interaction` from its raw values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import discord

#: Deepest nesting of components read (action rows and labels hold one level each).
_MAX_DEPTH = 4


def modal_custom_id(interaction: discord.Interaction) -> str | None:
    """The custom_id of a submitted modal, or None for any other interaction."""
    if interaction.type is not discord.InteractionType.modal_submit:
        return None
    data: Any = interaction.data or {}
    custom_id = data.get("custom_id") if isinstance(data, Mapping) else None
    return custom_id if isinstance(custom_id, str) else None


def submitted_values(interaction: discord.Interaction) -> dict[str, str | list[str]]:
    """What the user entered, by input custom_id: text as `str`, select choices as `list`.

    Action rows and labels are looked into; anything malformed is skipped.
    """
    data: Any = interaction.data or {}
    found: dict[str, str | list[str]] = {}
    if isinstance(data, Mapping):
        _collect(data.get("components"), found, 0)
    return found


def _collect(components: Any, found: dict[str, str | list[str]], depth: int) -> None:
    if depth > _MAX_DEPTH or not isinstance(components, Iterable):
        return
    for component in components:
        if not isinstance(component, Mapping):
            continue
        _collect(component.get("components"), found, depth + 1)
        if isinstance(component.get("component"), Mapping):
            _collect([component["component"]], found, depth + 1)
        custom_id = component.get("custom_id")
        if not isinstance(custom_id, str):
            continue
        if isinstance(component.get("value"), str):
            found[custom_id] = component["value"]
        elif isinstance(component.get("values"), list):
            found[custom_id] = [str(v) for v in component["values"]]


def text_value(values: Mapping[str, str | list[str]], name: str) -> str:
    """The text entered in input `name` ("" when absent)."""
    value = values.get(name)
    return value if isinstance(value, str) else ""


def choice_value(values: Mapping[str, str | list[str]], name: str) -> str | None:
    """The first option chosen in select `name` (None when none was)."""
    value = values.get(name)
    return value[0] if isinstance(value, list) and value else None
