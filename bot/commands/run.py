"""`iterateswarm run` (the default): start the bot; without a token, say what to set and stop."""

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
To see the bot work without a token, run the local demo: `make run` or `iterateswarm demo`.
"""
#: Exit code when the bot cannot start because of its configuration.
EXIT_NOT_CONFIGURED = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="start the bot (default)",
        description="Connect to Discord and serve until SIGTERM. Without DISCORD_BOT_TOKEN "
        "it says what to set and exits with code 2 (the local demo is `iterateswarm demo`).",
    )
    parser.add_argument(
        "--demo-without-token",
        action="store_true",
        help="run the local demo instead when no token is configured (what `make run` does)",
    )
    parser.set_defaults(handler=handler)


async def handler(args: argparse.Namespace, settings: Settings) -> int:
    """Run the bot until it is stopped."""
    configure_logging(settings.log_level, settings.resolved_log_format)
    if settings.discord.token is None:
        print(NO_TOKEN_MESSAGE, file=sys.stderr)
        if not args.demo_without_token:
            return EXIT_NOT_CONFIGURED
        print(
            "Running the local demo (fake Discord and GitHub on this machine).\n", file=sys.stderr
        )
        from bot.demo import run_demo

        return await run_demo(settings)
    from bot.app import run_bot

    return await run_bot(settings)
