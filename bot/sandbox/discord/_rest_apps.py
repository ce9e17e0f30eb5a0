"""REST routes for application commands, interaction callbacks and interaction webhooks."""

from __future__ import annotations

import time

from aiohttp import web

from bot.sandbox.discord._interaction_records import FakeInteraction, InteractionResponse
from bot.sandbox.discord._models import EPHEMERAL_FLAG, LOADING_FLAG, Payload
from bot.sandbox.discord._rest import (
    ApiCall,
    RestApi,
    Route,
    error,
    guild_id_of,
    json_response,
    no_content,
)

PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL, PREMIUM_REQUIRED, LAUNCH_ACTIVITY = 8, 9, 10, 12
CALLBACK_TYPES = {PONG, MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE}
CALLBACK_TYPES |= {AUTOCOMPLETE_RESULT, MODAL, PREMIUM_REQUIRED, LAUNCH_ACTIVITY}
COMPONENT_TYPES = (3, 5)
UNKNOWN_INTERACTION = (404, 10062, "Unknown interaction")
UNKNOWN_WEBHOOK = (404, 10015, "Unknown Webhook")
NOT_AUTHORIZED = (403, 20012, "You are not authorized to perform this action on this application")


def _scope(api: RestApi, call: ApiCall) -> tuple[bool, int | None]:
    ok = call.param_int("application_id") == api.state.application_id
    guild = call.params.get("guild_id")
    return ok, int(guild) if guild is not None else None


async def list_commands(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /applications/{application_id}[/guilds/{guild_id}]/commands."""
    ok, guild_id = _scope(api, call)
    if not ok:
        return error(*NOT_AUTHORIZED)
    return json_response(api.state.commands.get(guild_id, []))


async def overwrite_commands(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """PUT /applications/{application_id}[/guilds/{guild_id}]/commands (bulk overwrite)."""
    ok, guild_id = _scope(api, call)
    if not ok:
        return error(*NOT_AUTHORIZED)
    if not isinstance(call.body, list):
        return error(400, 50035, "Invalid Form Body: expected a list of commands")
    return json_response(api.state.put_commands(guild_id, call.body))


async def upsert_command(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """POST /applications/{application_id}[/guilds/{guild_id}]/commands (create or replace one)."""
    ok, guild_id = _scope(api, call)
    if not ok:
        return error(*NOT_AUTHORIZED)
    body = call.json
    kind = int(body.get("type", 1))
    commands = api.state.commands.setdefault(guild_id, [])
    previous = next(
        (c for c in commands if c["name"] == body["name"] and int(c.get("type", 1)) == kind), None
    )
    stored = api.state.command_payload(body, guild_id, previous)
    if previous is not None:
        commands[commands.index(previous)] = stored
    else:
        commands.append(stored)
    api.state.changed()
    return json_response(stored, 200 if previous else 201)


async def one_command(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET/PATCH/DELETE /applications/{application_id}[/guilds/{guild_id}]/commands/{command_id}."""
    ok, guild_id = _scope(api, call)
    commands = api.state.commands.get(guild_id, [])
    found = next((c for c in commands if c["id"] == call.params["command_id"]), None)
    if not ok or found is None:
        return error(404, 10063, "Unknown application command")
    if call.method == "DELETE":
        commands.remove(found)
        api.state.changed()
        return no_content()
    if call.method == "PATCH":
        updated = api.state.command_payload({**found, **call.json}, guild_id, found)
        commands[commands.index(found)] = updated
        api.state.changed()
        return json_response(updated)
    return json_response(found)


async def command_permissions(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /applications/{application_id}/guilds/{guild_id}/commands/permissions."""
    return json_response([])


async def interaction_callback(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """POST /interactions/{interaction_id}/{token}/callback: the initial response."""
    interaction = api.state.interactions.get(call.param_int("interaction_id"))
    if interaction is None or interaction.token != call.params["token"]:
        return error(*UNKNOWN_INTERACTION)
    deadline = api.interaction_deadline
    if deadline is not None and time.monotonic() - interaction.created_at > deadline:
        return error(*UNKNOWN_INTERACTION)
    if interaction.ack_claimed:
        return error(400, 40060, "Interaction has already been acknowledged.")
    body = call.json
    kind = int(body["type"])
    if kind not in CALLBACK_TYPES:
        return error(400, 50035, f"Invalid Form Body: unknown callback type {kind}")
    if kind in (DEFERRED_UPDATE, UPDATE_MESSAGE) and interaction.type not in COMPONENT_TYPES:
        return error(400, 40043, "Interaction has to be a component or modal interaction")
    interaction.ack_claimed = True
    data: Payload = dict(body.get("data") or {})
    channel = api.state.channels.get(int(interaction.payload.get("channel_id") or 0))
    message_id: int | None = None
    if kind == MESSAGE and channel is not None:
        message_type = 20 if interaction.type == 2 else 0
        stored = await api.send_message(
            call, channel, data, interaction=interaction, message_type=message_type
        )
        message_id = stored.id
    elif kind == DEFERRED_MESSAGE and channel is not None:
        flags = LOADING_FLAG | (int(data.get("flags") or 0) & EPHEMERAL_FLAG)
        stored = await api.send_message(
            call, channel, {"content": "", "flags": flags}, interaction=interaction, audit=False
        )
        message_id = stored.id
    elif kind in (DEFERRED_UPDATE, UPDATE_MESSAGE):
        message_id = interaction.message_id
        target = api.state.messages.get(message_id or 0)
        if kind == UPDATE_MESSAGE and target is not None:
            await api.edit_message(call, target, data)
    interaction.original_message_id = message_id
    interaction.record(
        InteractionResponse(kind="callback", type=kind, data=data, message_id=message_id)
    )
    if call.query.get("with_response", "").lower() not in ("1", "true"):
        return no_content()
    return json_response(_callback_payload(api, interaction, kind, message_id))


def _callback_payload(
    api: RestApi, interaction: FakeInteraction, kind: int, message_id: int | None
) -> Payload:
    summary: Payload = {"id": str(interaction.id), "type": interaction.type}
    resource: Payload = {"type": kind}
    stored = api.state.messages.get(message_id or 0)
    if stored is not None:
        summary["response_message_id"] = str(stored.id)
        summary["response_message_loading"] = kind == DEFERRED_MESSAGE
        summary["response_message_ephemeral"] = stored.ephemeral
        if kind in (MESSAGE, DEFERRED_MESSAGE, UPDATE_MESSAGE):
            resource["message"] = api.state.message_view(stored)
    return {"interaction": summary, "resource": resource}


def _webhook_interaction(api: RestApi, call: ApiCall) -> FakeInteraction | None:
    if call.param_int("application_id") != api.state.application_id:
        return None
    return api.state.interaction_by_token(call.params["token"])


async def create_followup(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """POST /webhooks/{application_id}/{token}: a followup message."""
    interaction = _webhook_interaction(api, call)
    if interaction is None or not interaction.acknowledged:
        return error(*UNKNOWN_WEBHOOK)
    channel = api.state.channels.get(int(interaction.payload.get("channel_id") or 0))
    if channel is None:
        return error(404, 10003, "Unknown Channel")
    body = call.json
    stored = await api.send_message(call, channel, body, interaction=interaction)
    interaction.record(
        InteractionResponse(kind="followup", type=None, data=dict(body), message_id=stored.id)
    )
    if call.query.get("wait", "").lower() in ("1", "true"):
        return json_response(api.state.message_view(stored))
    return no_content()


async def webhook_message(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET/PATCH/DELETE /webhooks/{application_id}/{token}/messages/{message_id|@original}."""
    interaction = _webhook_interaction(api, call)
    if interaction is None:
        return error(*UNKNOWN_WEBHOOK)
    original = call.params["message_id"] == "@original"
    message_id = interaction.original_message_id if original else call.param_int("message_id")
    stored = api.state.messages.get(message_id or 0)
    if stored is None or stored.deleted:
        return error(404, 10008, "Unknown Message")
    suffix = "original" if original else "message"
    if call.method == "PATCH":
        await api.edit_message(call, stored, call.json)
        interaction.record(
            InteractionResponse(
                kind=f"edit_{suffix}", type=None, data=dict(call.json), message_id=stored.id
            )
        )
    elif call.method == "DELETE":
        stored.deleted = True
        if not stored.ephemeral:
            channel = api.state.channels.get(stored.channel_id)
            event: Payload = {"id": str(stored.id), "channel_id": str(stored.channel_id)}
            guild_id = guild_id_of(channel)
            if guild_id is not None:
                event["guild_id"] = str(guild_id)
            await api.hub.dispatch("MESSAGE_DELETE", event, guild_id=guild_id)
        interaction.record(
            InteractionResponse(kind=f"delete_{suffix}", type=None, data={}, message_id=stored.id)
        )
        return no_content()
    return json_response(api.state.message_view(stored))


APP = "/applications/{application_id}"
GUILD_APP = APP + "/guilds/{guild_id}"
WEBHOOK = "/webhooks/{application_id}/{token}"
ROUTES: list[Route] = [
    Route("GET", GUILD_APP + "/commands/permissions", command_permissions),
    *(
        route
        for base in (APP, GUILD_APP)
        for route in (
            Route("GET", base + "/commands", list_commands),
            Route("PUT", base + "/commands", overwrite_commands),
            Route("POST", base + "/commands", upsert_command),
            Route("GET", base + "/commands/{command_id}", one_command),
            Route("PATCH", base + "/commands/{command_id}", one_command),
            Route("DELETE", base + "/commands/{command_id}", one_command),
        )
    ),
    Route("POST", "/interactions/{interaction_id}/{token}/callback", interaction_callback, False),
    Route("POST", WEBHOOK, create_followup, needs_auth=False),
    Route("GET", WEBHOOK + "/messages/{message_id}", webhook_message, needs_auth=False),
    Route("PATCH", WEBHOOK + "/messages/{message_id}", webhook_message, needs_auth=False),
    Route("DELETE", WEBHOOK + "/messages/{message_id}", webhook_message, needs_auth=False),
]
