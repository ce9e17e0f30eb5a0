"""`iterateswarm check` on Discord: the token, the Message Content intent, the guilds."""

from __future__ import annotations

from typing import Any

import httpx

from bot.commands._findings import Finding
from bot.settings import Settings

#: Application flags set when the Message Content intent is switched on in the portal.
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
DEFAULT_API = "https://discord.com/api/v10"
PORTAL = "https://discord.com/developers/applications"


async def discord_findings(settings: Settings) -> list[Finding]:
    """Token, application flags, and the guilds the bot is in (home ones and the others)."""
    d = settings.discord
    if d.token is None:
        return [Finding("fail", "Discord", "no token: set DISCORD_BOT_TOKEN (or run the demo)")]
    base = d.api_base or DEFAULT_API
    headers = {"Authorization": f"Bot {d.token.get_secret_value()}"}
    try:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as client:
            me = await client.get("/users/@me")
            if me.status_code != 200:
                return [_token_problem(me.status_code)]
            findings = [
                Finding("ok", "Discord", f"token accepted (bot {me.json().get('username', '?')})")
            ]
            app = await client.get("/applications/@me")
            findings += _application(app.json() if app.status_code == 200 else None)
            findings += await _guilds(client, settings)
    except httpx.HTTPError as exc:
        return [Finding("fail", "Discord", f"{base} unreachable ({type(exc).__name__})")]
    return findings


def _token_problem(status: int) -> Finding:
    if status == 401:
        return Finding("fail", "Discord", "token rejected (401)")
    return Finding("warn", "Discord", f"unexpected answer {status}")


def _application(app: dict[str, Any] | None) -> list[Finding]:
    if app is None:
        return [Finding("warn", "Message Content", "could not read the application's settings")]
    flags = int(app.get("flags") or 0)
    if flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED):
        found = [Finding("ok", "Message Content", "intent switched on")]
    else:
        found = [
            Finding(
                "warn",
                "Message Content",
                "intent off: feedback-channel messages are read only when they mention the bot "
                "(/feedback and 'Send to triage' still work); to read them all, turn on "
                f"Bot -> Privileged Gateway Intents -> Message Content Intent at {PORTAL}",
            )
        ]
    if app.get("bot_public"):
        found.append(
            Finding(
                "warn",
                "Public Bot",
                "on: anyone can add the bot to their server (it refuses to work there); "
                "switch Public Bot off on the Bot tab",
            )
        )
    return found


async def _home_ids(client: httpx.AsyncClient, settings: Settings) -> tuple[set[int], str]:
    d = settings.discord
    if d.allowed_guild_ids:
        return set(d.allowed_guild_ids), "ALLOWED_GUILD_IDS"
    if d.review_channel_id is None:
        return set(), "no ALLOWED_GUILD_IDS or REVIEW_CHANNEL_ID"
    channel = await client.get(f"/channels/{d.review_channel_id}")
    guild_id = channel.json().get("guild_id") if channel.status_code == 200 else None
    if guild_id is None:
        return set(), "REVIEW_CHANNEL_ID is not a server channel the bot can see"
    return {int(guild_id)}, "server of REVIEW_CHANNEL_ID"


async def _guilds(client: httpx.AsyncClient, settings: Settings) -> list[Finding]:
    home, source = await _home_ids(client, settings)
    if not home:
        return [Finding("fail", "home servers", f"none ({source}): the bot would work nowhere")]
    listed = await client.get("/users/@me/guilds", params={"limit": 200})
    if listed.status_code != 200:
        return [Finding("warn", "servers", f"could not list them ({listed.status_code})")]
    guilds = listed.json()
    found = [Finding("info", "home servers", f"{', '.join(map(str, sorted(home)))} ({source})")]
    present = {int(g["id"]) for g in guilds}
    for guild_id in sorted(home - present):
        found.append(Finding("warn", "home server", f"{guild_id}: the bot is not in it"))
    leaves = settings.discord.leave_unknown_guilds
    for guild in guilds:
        name = str(guild.get("name", "?"))[:60]
        if int(guild["id"]) in home:
            found.append(Finding("ok", "server", f"{guild['id']} {name!r}: home"))
        else:
            action = "the bot leaves it at start" if leaves else "the bot ignores it there"
            found.append(
                Finding("warn", "server", f"{guild['id']} {name!r}: not a home server; {action}")
            )
    return found
