"""REST routes for users, guilds, channels, messages, reactions and threads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.sandbox.discord._forums import thread_edit_problem
from bot.sandbox.discord._models import EPHEMERAL_FLAG, Payload, StoredMessage, iso_now
from bot.sandbox.discord._payloads import (
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    member_payload,
    thread_payload,
)
from bot.sandbox.discord._rest import (
    ApiCall,
    RestApi,
    Route,
    error,
    guild_id_of,
    json_response,
    no_content,
)
from bot.sandbox.discord._state import emoji_parts

UNKNOWN_CHANNEL = (404, 10003, "Unknown Channel")
UNKNOWN_MESSAGE = (404, 10008, "Unknown Message")
#: How long Discord remembers a nonce sent with `enforce_nonce` ("the past few minutes").
NONCE_WINDOW = timedelta(minutes=5)


async def get_gateway(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /gateway and /gateway/bot."""
    data: Payload = {"url": api.hub.gateway_url()}
    if call.path.endswith("/bot"):
        data["shards"] = api.recommended_shards
        data["session_start_limit"] = {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14400000,
            "max_concurrency": 1,
        }
    return json_response(data)


async def get_me(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /users/@me."""
    return json_response(api.state.bot_user.payload() | {"verified": True, "mfa_enabled": False})


async def get_user(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /users/{user_id}."""
    user = api.state.users.get(call.param_int("user_id"))
    return json_response(user.payload()) if user else error(404, 10013, "Unknown User")


async def get_application(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /applications/@me and /oauth2/applications/@me."""
    state = api.state
    guild = next(iter(state.guilds.values()), None)
    owner = state.users.get(guild.owner_id) if guild else None
    return json_response(
        {
            "id": str(state.application_id),
            "name": state.bot_user.name,
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": state.bot_public,
            "bot_require_code_grant": False,
            "bot": state.bot_user.payload(),
            "owner": (owner or state.bot_user).payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": state.application_flags,
            "tags": [],
            "redirect_uris": [],
            "approximate_guild_count": len(state.bot_guilds()),
        }
    )


async def open_dm(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """POST /users/@me/channels."""
    user = api.state.users.get(int(call.json["recipient_id"]))
    if user is None:
        return error(400, 50033, "Invalid Recipient(s)")
    return json_response(api.state.open_dm(user))


async def get_channel(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /channels/{channel_id}."""
    channel = api.state.channels.get(call.param_int("channel_id"))
    return json_response(channel) if channel else error(*UNKNOWN_CHANNEL)


async def edit_channel(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """PATCH /channels/{channel_id} (rename; archive, lock or tag threads)."""
    channel = api.state.channels.get(call.param_int("channel_id"))
    if channel is None:
        return error(*UNKNOWN_CHANNEL)
    body = call.json
    metadata = channel.get("thread_metadata")
    if isinstance(metadata, dict):
        problem = thread_edit_problem(api.state, channel, body)
        if problem is not None:
            return error(*problem)
        if "applied_tags" in body:
            channel["applied_tags"] = [str(t) for t in body["applied_tags"] or []]
    for key in ("name", "topic", "rate_limit_per_user", "flags"):
        if key in body:
            channel[key] = body[key]
    if isinstance(metadata, dict):
        for key in ("archived", "locked", "auto_archive_duration", "invitable"):
            if key in body:
                metadata[key] = body[key]
        if "archived" in body:
            metadata["archive_timestamp"] = iso_now()
    event = "THREAD_UPDATE" if metadata is not None else "CHANNEL_UPDATE"
    await api.hub.dispatch(event, channel, guild_id=guild_id_of(channel))
    api.state.changed()
    return json_response(channel)


async def create_message(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """POST /channels/{channel_id}/messages."""
    channel = api.state.channels.get(call.param_int("channel_id"))
    if channel is None:
        return error(*UNKNOWN_CHANNEL)
    recipient = api.state.dm_recipient(channel)
    if recipient is not None and recipient in api.state.blocked_dm_users:
        return error(403, 50007, "Cannot send messages to this user")
    body = dict(call.json)
    body["flags"] = int(body.get("flags") or 0) & ~EPHEMERAL_FLAG
    earlier = _same_nonce(api, int(channel["id"]), body)
    if earlier is not None:
        return json_response(api.state.message_view(earlier))
    metadata = channel.get("thread_metadata")
    if isinstance(metadata, dict) and metadata.get("archived") and not metadata.get("locked"):
        metadata["archived"] = False  # a message sent in an archived thread reopens it
        await api.hub.dispatch("THREAD_UPDATE", channel, guild_id=guild_id_of(channel))
    stored = await api.send_message(call, channel, body)
    return json_response(api.state.message_view(stored))


def _same_nonce(api: RestApi, channel_id: int, body: Payload) -> StoredMessage | None:
    """With `enforce_nonce`, the bot's message with the same nonce from the last minutes."""
    nonce = body.get("nonce")
    if not body.get("enforce_nonce") or nonce is None:
        return None
    since = datetime.now(UTC) - NONCE_WINDOW
    for message_id in reversed(api.state.channel_messages.get(channel_id, [])):
        stored = api.state.messages[message_id]
        if (
            stored.author_id == api.state.bot_user.id
            and stored.payload.get("nonce") == nonce
            and datetime.fromisoformat(str(stored.payload["timestamp"])) >= since
        ):
            return stored
    return None


def _find_message(api: RestApi, call: ApiCall) -> StoredMessage | None:
    stored = api.state.messages.get(call.param_int("message_id"))
    if stored is None or stored.deleted or stored.channel_id != call.param_int("channel_id"):
        return None
    return stored


async def get_message(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /channels/{channel_id}/messages/{message_id}."""
    stored = _find_message(api, call)
    if stored is None or stored.ephemeral:
        return error(*UNKNOWN_MESSAGE)
    return json_response(api.state.message_view(stored))


async def list_messages(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /channels/{channel_id}/messages (newest first; before/after/around/limit)."""
    channel_id = call.param_int("channel_id")
    if channel_id not in api.state.channels:
        return error(*UNKNOWN_CHANNEL)
    limit = max(1, min(100, int(call.query.get("limit", "50"))))
    stored = [
        api.state.messages[m]
        for m in api.state.channel_messages.get(channel_id, [])
        if not api.state.messages[m].deleted and not api.state.messages[m].ephemeral
    ]
    if "before" in call.query:
        stored = [m for m in stored if m.id < int(call.query["before"])]
    if "after" in call.query:
        stored = [m for m in stored if m.id > int(call.query["after"])][:limit]
    if "around" in call.query:
        around = int(call.query["around"])
        older = [m for m in stored if m.id <= around][-((limit + 1) // 2) :]
        newer = [m for m in stored if m.id > around][: limit // 2]
        stored = older + newer
    newest_first = list(reversed(stored))[:limit]
    return json_response([api.state.message_view(m) for m in newest_first])


async def edit_message(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """PATCH /channels/{channel_id}/messages/{message_id}."""
    stored = _find_message(api, call)
    if stored is None:
        return error(*UNKNOWN_MESSAGE)
    if stored.author_id != api.state.bot_user.id and set(call.json) - {"flags"}:
        return error(403, 50005, "Cannot edit a message authored by another user")
    await api.edit_message(call, stored, call.json)
    return json_response(api.state.message_view(stored))


async def delete_message(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """DELETE /channels/{channel_id}/messages/{message_id}."""
    stored = _find_message(api, call)
    if stored is None:
        return error(*UNKNOWN_MESSAGE)
    stored.deleted = True
    channel = api.state.channels.get(stored.channel_id)
    event: Payload = {"id": str(stored.id), "channel_id": str(stored.channel_id)}
    guild_id = guild_id_of(channel)
    if guild_id is not None:
        event["guild_id"] = str(guild_id)
    await api.hub.dispatch("MESSAGE_DELETE", event, guild_id=guild_id)
    api.state.changed()
    return no_content()


async def add_own_reaction(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me."""
    stored = _find_message(api, call)
    if stored is None:
        return error(*UNKNOWN_MESSAGE)
    key, emoji = emoji_parts(call.params["emoji"])
    user = api.state.bot_user
    entries = api.state.reactions.setdefault(stored.id, [])
    if (key, user.id) not in entries:
        entries.append((key, user.id))
        channel = api.state.channels.get(stored.channel_id)
        guild_id = guild_id_of(channel)
        event: Payload = {
            "user_id": str(user.id),
            "channel_id": str(stored.channel_id),
            "message_id": str(stored.id),
            "emoji": emoji,
            "burst": False,
            "type": 0,
            "message_author_id": str(stored.author_id),
        }
        if guild_id is not None:
            event["guild_id"] = str(guild_id)
            event["member"] = member_payload(api.state.guilds[guild_id], user)
        await api.hub.dispatch("MESSAGE_REACTION_ADD", event, guild_id=guild_id)
    api.state.changed()
    return no_content()


async def remove_reaction(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """DELETE .../reactions/{emoji}/{user}, .../reactions/{emoji} and .../reactions."""
    stored = _find_message(api, call)
    if stored is None:
        return error(*UNKNOWN_MESSAGE)
    entries = api.state.reactions.get(stored.id, [])
    key = emoji_parts(call.params["emoji"])[0] if "emoji" in call.params else None
    target = call.params.get("user")
    user_id = api.state.bot_user.id if target == "@me" else (int(target) if target else None)
    removed = [
        (k, u)
        for k, u in entries
        if (key is None or k == key) and (user_id is None or u == user_id)
    ]
    api.state.reactions[stored.id] = [e for e in entries if e not in removed]
    channel = api.state.channels.get(stored.channel_id)
    guild_id = guild_id_of(channel)
    for removed_key, removed_user in removed:
        event: Payload = {
            "user_id": str(removed_user),
            "channel_id": str(stored.channel_id),
            "message_id": str(stored.id),
            "emoji": emoji_parts(removed_key)[1],
            "burst": False,
            "type": 0,
        }
        if guild_id is not None:
            event["guild_id"] = str(guild_id)
        await api.hub.dispatch("MESSAGE_REACTION_REMOVE", event, guild_id=guild_id)
    api.state.changed()
    return no_content()


async def list_reactors(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /channels/{channel_id}/messages/{message_id}/reactions/{emoji}."""
    stored = _find_message(api, call)
    if stored is None:
        return error(*UNKNOWN_MESSAGE)
    key = emoji_parts(call.params["emoji"])[0]
    user_ids = [u for k, u in api.state.reactions.get(stored.id, []) if k == key]
    users = [api.state.users[u].payload() for u in user_ids if u in api.state.users]
    return json_response(users)


async def thread_from_message(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """POST /channels/{channel_id}/messages/{message_id}/threads (thread id = message id)."""
    stored = _find_message(api, call)
    parent = api.state.channels.get(call.param_int("channel_id"))
    if stored is None or parent is None:
        return error(*UNKNOWN_MESSAGE)
    if stored.id in api.state.channels:
        return error(400, 160004, "A thread has already been created for this message")
    thread = thread_payload(
        stored.id,
        parent,
        api.state.bot_user.id,
        str(call.json["name"]),
        auto_archive_duration=int(call.json.get("auto_archive_duration") or 1440),
    )
    return await _announce_thread(api, thread, stored)


async def create_thread(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """POST /channels/{channel_id}/threads (thread without a starter message)."""
    parent = api.state.channels.get(call.param_int("channel_id"))
    if parent is None:
        return error(*UNKNOWN_CHANNEL)
    kind = int(call.json.get("type") or PRIVATE_THREAD)
    thread = thread_payload(
        api.state.ids.next(),
        parent,
        api.state.bot_user.id,
        str(call.json["name"]),
        thread_type=kind if kind in (PUBLIC_THREAD, PRIVATE_THREAD) else PRIVATE_THREAD,
        auto_archive_duration=int(call.json.get("auto_archive_duration") or 1440),
    )
    return await _announce_thread(api, thread, None)


async def _announce_thread(
    api: RestApi, thread: Payload, starter: StoredMessage | None
) -> web.StreamResponse:
    api.state.add_channel(thread)
    if starter is not None:
        starter.payload["thread"] = thread
    await api.hub.dispatch(
        "THREAD_CREATE", {**thread, "newly_created": True}, guild_id=guild_id_of(thread)
    )
    return json_response(thread, 201)


async def join_thread(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """PUT/DELETE /channels/{channel_id}/thread-members/{user}."""
    if call.param_int("channel_id") not in api.state.channels:
        return error(*UNKNOWN_CHANNEL)
    return no_content()


async def typing(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """POST /channels/{channel_id}/typing."""
    return no_content()


MESSAGE = "/channels/{channel_id}/messages/{message_id}"
ROUTES: list[Route] = [
    Route("GET", "/gateway", get_gateway, needs_auth=False),
    Route("GET", "/gateway/bot", get_gateway),
    Route("GET", "/users/@me", get_me),
    Route("GET", "/users/{user_id}", get_user),
    Route("POST", "/users/@me/channels", open_dm),
    Route("GET", "/applications/@me", get_application),
    Route("GET", "/oauth2/applications/@me", get_application),
    Route("GET", "/channels/{channel_id}", get_channel),
    Route("PATCH", "/channels/{channel_id}", edit_channel),
    Route("GET", "/channels/{channel_id}/messages", list_messages),
    Route("POST", "/channels/{channel_id}/messages", create_message),
    Route("GET", MESSAGE, get_message),
    Route("PATCH", MESSAGE, edit_message),
    Route("DELETE", MESSAGE, delete_message),
    Route("PUT", MESSAGE + "/reactions/{emoji}/@me", add_own_reaction),
    Route("DELETE", MESSAGE + "/reactions/{emoji}/{user}", remove_reaction),
    Route("GET", MESSAGE + "/reactions/{emoji}", list_reactors),
    Route("DELETE", MESSAGE + "/reactions/{emoji}", remove_reaction),
    Route("DELETE", MESSAGE + "/reactions", remove_reaction),
    Route("POST", MESSAGE + "/threads", thread_from_message),
    Route("POST", "/channels/{channel_id}/threads", create_thread),
    Route("PUT", "/channels/{channel_id}/thread-members/{user}", join_thread),
    Route("DELETE", "/channels/{channel_id}/thread-members/{user}", join_thread),
    Route("POST", "/channels/{channel_id}/typing", typing),
]
