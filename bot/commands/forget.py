"""`iterateswarm forget --user ID`: remove a person's data from every store, from a shell."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import TYPE_CHECKING

from bot.cli import UserError
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.personal_data import ForgetReport
    from bot.services import Services

log = logging.getLogger(__name__)

CONFIRM_WORD = "forget"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `forget` subcommand."""
    parser = subparsers.add_parser(
        "forget",
        help="remove a person's data from every store (as /forget user does)",
        description="Remove a person's feedback items, texts, name and id from the database, "
        "the graph checkpoints, the learned corrections and the duplicate index; issues "
        "already on GitHub are listed, not deleted. With DISCORD_BOT_TOKEN set, the review "
        "messages are emptied and the maintainers told. With the embedded vector store, "
        "stop the bot first (or use /forget in Discord).",
    )
    parser.add_argument("--user", type=int, required=True, help="the person's Discord user id")
    parser.add_argument(
        "--guild", type=int, default=None, help="only this server's items (default: every one)"
    )
    parser.add_argument("--name", action="append", default=[], help="a username they used")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.set_defaults(handler=handler)


async def _confirmed(user_id: int) -> bool:
    if not sys.stdin.isatty():
        raise UserError("not a terminal: pass --yes to confirm")
    prompt = f"Type '{CONFIRM_WORD}' to remove everything about user {user_id}: "
    answer = await asyncio.to_thread(input, prompt)
    return answer.strip().lower() == CONFIRM_WORD


async def handler(args: argparse.Namespace, settings: Settings) -> int:
    """Forget the person and print what was removed and what stays on GitHub."""
    from bot.services import open_services
    from cogs.privacy._notices import report_text

    if not args.yes and not await _confirmed(args.user):
        print("Nothing was removed.")
        return 1
    async with open_services(settings) as services:
        assert services.personal_data is not None
        report = await services.personal_data.forget_person(
            args.user, guild_id=args.guild, names=args.name
        )
        print(report_text(report, me=False))
        if settings.discord.token is None:
            if report.reviews:
                print(
                    f"{len(report.reviews)} review message(s) in Discord still show the removed "
                    "feedback: set DISCORD_BOT_TOKEN and run this again, or delete them there."
                )
            return 0
        await _tell_discord(settings, services, report)
    return 0


async def _tell_discord(settings: Settings, services: Services, report: ForgetReport) -> None:
    """Over Discord's REST API only (no gateway): empty reviews, tell the maintainers."""
    import discord

    from bot.client import apply_endpoint_overrides
    from cogs.privacy._notices import tell_discord

    assert settings.discord.token is not None
    apply_endpoint_overrides(settings)
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(settings.discord.token.get_secret_value())
        await tell_discord(client, services.guild_settings, report)
    except discord.HTTPException as exc:
        log.warning("could not update Discord: %s", exc)
        print("Discord could not be updated; review messages may still show the feedback.")
    finally:
        await client.close()
