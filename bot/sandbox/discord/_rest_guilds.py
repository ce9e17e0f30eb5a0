"""REST routes for guilds: guild, channels, roles and members."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.discord._payloads import member_payload, member_permissions
from bot.sandbox.discord._rest import ApiCall, RestApi, Route, error, json_response, no_content

UNKNOWN_GUILD = (404, 10004, "Unknown Guild")


async def get_guild(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /guilds/{guild_id}."""
    guild = api.state.guilds.get(call.param_int("guild_id"))
    if guild is None:
        return error(*UNKNOWN_GUILD)
    return json_response(
        {
            "id": str(guild.id),
            "name": guild.name,
            "owner_id": str(guild.owner_id),
            "roles": [r.payload() for r in guild.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "icon": None,
            "preferred_locale": "en-US",
            "approximate_member_count": len(guild.members),
        }
    )


async def guild_channels(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /guilds/{guild_id}/channels."""
    guild = api.state.guilds.get(call.param_int("guild_id"))
    if guild is None:
        return error(*UNKNOWN_GUILD)
    channels = [c for c in api.state.guild_channels(guild) if c["type"] not in (10, 11, 12)]
    return json_response(channels)


async def guild_roles(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /guilds/{guild_id}/roles."""
    guild = api.state.guilds.get(call.param_int("guild_id"))
    if guild is None:
        return error(*UNKNOWN_GUILD)
    return json_response([r.payload() for r in guild.roles.values()])


async def guild_member(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /guilds/{guild_id}/members/{user_id}."""
    guild = api.state.guilds.get(call.param_int("guild_id"))
    user_id = call.param_int("user_id")
    user = api.state.users.get(user_id)
    if guild is None or user is None or user_id not in guild.members:
        return error(404, 10007, "Unknown Member")
    return json_response(member_payload(guild, user))


async def guild_members(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /guilds/{guild_id}/members."""
    guild = api.state.guilds.get(call.param_int("guild_id"))
    if guild is None:
        return error(*UNKNOWN_GUILD)
    after = int(call.query.get("after", "0"))
    limit = int(call.query.get("limit", "1"))
    ids = sorted(u for u in guild.members if u > after and u in api.state.users)[:limit]
    return json_response([member_payload(guild, api.state.users[u]) for u in ids])


async def change_member_role(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """PUT/DELETE /guilds/{guild_id}/members/{user_id}/roles/{role_id}."""
    guild = api.state.guilds.get(call.param_int("guild_id"))
    user_id, role_id = call.param_int("user_id"), call.param_int("role_id")
    if guild is None or user_id not in guild.members or role_id not in guild.roles:
        return error(404, 10011, "Unknown Role")
    roles = guild.members[user_id]
    if call.method == "PUT" and role_id not in roles:
        roles.append(role_id)
    elif call.method == "DELETE" and role_id in roles:
        roles.remove(role_id)
    user = api.state.users[user_id]
    event = member_payload(guild, user) | {"guild_id": str(guild.id)}
    await api.hub.dispatch("GUILD_MEMBER_UPDATE", event, guild_id=guild.id)
    api.state.changed()
    return no_content()


async def my_guilds(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """GET /users/@me/guilds: the guilds the bot is in, as partial guild objects."""
    bot_id = api.state.bot_user.id
    return json_response(
        [
            {
                "id": str(guild.id),
                "name": guild.name,
                "icon": None,
                "banner": None,
                "owner": guild.owner_id == bot_id,
                "permissions": str(member_permissions(guild, bot_id)),
                "features": [],
            }
            for guild in api.state.bot_guilds()
        ]
    )


async def leave_guild(api: RestApi, call: ApiCall) -> web.StreamResponse:
    """DELETE /users/@me/guilds/{guild_id}: the bot leaves; GUILD_DELETE follows."""
    guild_id = call.param_int("guild_id")
    guild = api.state.guilds.get(guild_id)
    if guild is None or not api.state.bot_is_in(guild_id):
        return error(*UNKNOWN_GUILD)
    await api.hub.dispatch("GUILD_DELETE", {"id": str(guild_id)}, guild_id=guild_id)
    guild.members.pop(api.state.bot_user.id, None)
    api.state.left_guilds.append(guild_id)
    api.state.changed()
    return no_content()


ROUTES: list[Route] = [
    Route("GET", "/users/@me/guilds", my_guilds),
    Route("DELETE", "/users/@me/guilds/{guild_id}", leave_guild),
    Route("GET", "/guilds/{guild_id}", get_guild),
    Route("GET", "/guilds/{guild_id}/channels", guild_channels),
    Route("GET", "/guilds/{guild_id}/roles", guild_roles),
    Route("GET", "/guilds/{guild_id}/members", guild_members),
    Route("GET", "/guilds/{guild_id}/members/{user_id}", guild_member),
    Route("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", change_member_role),
    Route("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", change_member_role),
]
