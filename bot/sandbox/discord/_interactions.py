"""Builders for INTERACTION_CREATE payloads: components, modals, slash and context-menu commands."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from bot.sandbox.discord._models import FakeGuild, FakeUser, Payload
from bot.sandbox.discord._payloads import BOT_PERMISSIONS, member_payload, member_permissions
from bot.sandbox.discord._state import DiscordState

SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def interaction_payload(
    state: DiscordState,
    *,
    kind: int,
    data: Payload,
    user: FakeUser,
    channel: Payload,
    message: Payload | None = None,
) -> Payload:
    """A complete interaction object as Discord sends it in INTERACTION_CREATE."""
    guild = state.guild_of(channel)
    interaction_id = state.ids.next()
    payload: Payload = {
        "id": str(interaction_id),
        "application_id": str(state.application_id),
        "type": kind,
        "data": data,
        "token": f"fake-{interaction_id}-{secrets.token_urlsafe(24)}",
        "version": 1,
        "channel_id": channel["id"],
        "channel": {**channel, "permissions": str(_permissions(guild, user))},
        "app_permissions": str(BOT_PERMISSIONS),
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if guild is not None:
        payload["guild_id"] = str(guild.id)
        payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = member_payload(guild, user, with_permissions=True)
        payload["authorizing_integration_owners"] = {"0": str(guild.id)}
        payload["context"] = 0
    else:
        payload["user"] = user.payload()
        payload["authorizing_integration_owners"] = {"1": str(user.id)}
        payload["context"] = 1
    if message is not None:
        payload["message"] = message
    return payload


def _permissions(guild: FakeGuild | None, user: FakeUser) -> int:
    return member_permissions(guild, user.id) if guild is not None else BOT_PERMISSIONS


def modal_submit_components(
    modal: Payload | None, fields: Mapping[str, str | list[str]]
) -> list[Payload]:
    """Submitted components mirroring the modal the bot sent (label or action-row layout).

    Args:
        modal: The `data` of the bot's type-9 response, or None when unknown.
        fields: Value per input custom_id (a list of values for selects).

    Returns:
        The `data.components` list of a MODAL_SUBMIT interaction.

    Raises:
        KeyError: A field is not an input of the known modal.
    """
    if modal is None:
        return [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in fields.items()
        ]
    known: set[str] = set()
    result: list[Payload] = []
    for row in modal.get("components", []):
        if row.get("type") == 1:
            inner = [_submitted(c, fields, known) for c in row.get("components", [])]
            result.append({"type": 1, "components": [c for c in inner if c is not None]})
        elif row.get("type") == 18 and isinstance(row.get("component"), dict):
            submitted = _submitted(row["component"], fields, known)
            if submitted is not None:
                result.append({"type": 18, "id": row.get("id", 0), "component": submitted})
        elif row.get("type") == 10:
            result.append({"type": 10, "id": row.get("id", 0)})
    unknown = set(fields) - known
    if unknown:
        raise KeyError(f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}")
    return result


def _submitted(
    component: Payload, fields: Mapping[str, str | list[str]], known: set[str]
) -> Payload | None:
    custom_id = component.get("custom_id")
    if custom_id is None:
        return None
    known.add(custom_id)
    value = fields.get(custom_id)
    submitted: Payload = {"type": component["type"], "custom_id": custom_id}
    if "id" in component:
        submitted["id"] = component["id"]
    if component["type"] == 4:
        submitted["value"] = "" if value is None else str(value)
    else:
        values = value if isinstance(value, list) else ([] if value is None else [value])
        submitted["values"] = [str(v) for v in values]
    return submitted


def command_data(
    state: DiscordState,
    command: Payload,
    path: list[str],
    values: Mapping[str, Any],
    guild: FakeGuild | None,
) -> Payload:
    """`data` of a CHAT_INPUT interaction for `command`, its subcommand `path` and option values.

    Raises:
        KeyError: An unknown subcommand or option.
        ValueError: A required option is missing.
    """
    resolved: Payload = {}
    definitions: list[Payload] = list(command.get("options") or [])
    chain: list[Payload] = []
    for name in path:
        sub = next(
            (
                o
                for o in definitions
                if o["name"] == name and o.get("type") in (SUB_COMMAND, SUB_COMMAND_GROUP)
            ),
            None,
        )
        if sub is None:
            raise KeyError(f"/{command['name']} has no subcommand {name!r}")
        chain.append(sub)
        definitions = list(sub.get("options") or [])
    options = _leaf_options(state, command["name"], definitions, values, resolved, guild)
    for sub in reversed(chain):
        options = [{"type": sub["type"], "name": sub["name"], "options": options}]
    data: Payload = {
        "id": command["id"],
        "name": command["name"],
        "type": 1,
        "options": options,
    }
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    if resolved:
        data["resolved"] = resolved
    return data


def _leaf_options(  # noqa: PLR0917
    state: DiscordState,
    command_name: str,
    definitions: list[Payload],
    values: Mapping[str, Any],
    resolved: Payload,
    guild: FakeGuild | None,
) -> list[Payload]:
    missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in values]
    if missing:
        raise ValueError(f"/{command_name} needs options {missing}")
    options = []
    for name, value in values.items():
        definition = next((d for d in definitions if d["name"] == name), None)
        if definition is None:
            raise KeyError(f"/{command_name} has no option {name!r}")
        kind = int(definition["type"])
        if kind in (USER, CHANNEL, ROLE, MENTIONABLE):
            snowflake = int(getattr(value, "id", value))
            _resolve(state, kind, snowflake, resolved, guild)
            options.append({"name": name, "type": kind, "value": str(snowflake)})
        else:
            options.append({"name": name, "type": kind, "value": value})
    return options


def _resolve(
    state: DiscordState, kind: int, snowflake: int, resolved: Payload, guild: FakeGuild | None
) -> None:
    user = state.users.get(snowflake)
    if kind in (USER, MENTIONABLE) and user is not None:
        resolved.setdefault("users", {})[str(snowflake)] = user.payload()
        if guild is not None and snowflake in guild.members:
            member = member_payload(guild, user, with_user=False, with_permissions=True)
            resolved.setdefault("members", {})[str(snowflake)] = member
    elif kind in (ROLE, MENTIONABLE) and guild is not None and snowflake in guild.roles:
        resolved.setdefault("roles", {})[str(snowflake)] = guild.roles[snowflake].payload()
    elif kind == CHANNEL and snowflake in state.channels:
        channel = state.channels[snowflake]
        keys = ("id", "name", "type", "parent_id", "thread_metadata")
        entry: Payload = {k: channel[k] for k in keys if k in channel}
        resolved.setdefault("channels", {})[str(snowflake)] = entry | {"permissions": "0"}
    else:
        raise KeyError(f"cannot resolve option value {snowflake}")
