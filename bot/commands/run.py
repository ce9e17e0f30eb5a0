"""`iterateswarm run` (the default): start the bot, or the local demo when no token is set."""

from __future__ import annotations

import argparse
import sys

from bot.log import configure_logging
from bot.settings import Settings

NO_TOKEN_MESSAGE = """\
No DISCORD_BOT_TOKEN is configured, so the bot cannot connect to Discord.
To run it on your server: copy .env.example to .env, fill in DISCORD_BOT_TOKEN,
REVIEW_CHANNEL_ID, FEEDBACK_CHANNEL_IDS, MAINTAINER_ROLE_IDS and the GITHUB_* settings
(see README.md), then run this command again.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="start the bot (default); without a Discord token, run the local demo",
        description="Connect to Discord and serve until SIGTERM. Without DISCORD_BOT_TOKEN "
        "it explains what to set and runs the local demo instead.",
    )
    parser.add_argument(
        "--no-demo", action="store_true", help="exit instead of running the demo when no token"
    )
    parser.set_defaults(handler=handler)


async def handler(args: argparse.Namespace, settings: Settings) -> int:
    """Run the bot until it is stopped."""
    configure_logging(settings.log_level, settings.resolved_log_format)
    if settings.discord.token is None:
        print(NO_TOKEN_MESSAGE, file=sys.stderr)
        if args.no_demo:
            return 2
        print(
            "Running the local demo instead (fake Discord and GitHub on this machine).\n",
            file=sys.stderr,
        )
        from bot.demo import run_demo

        return await run_demo(settings)
    from bot.app import run_bot

    return await run_bot(settings)
