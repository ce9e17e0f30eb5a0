"""`iterateswarm demo`: the real bot against fake Discord and GitHub, with a transcript."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.log import configure_logging
from bot.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `demo` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="run the local demo (no tokens needed)",
        description="Start a fake Discord server and a fake GitHub on this machine, run the "
        "real bot against them, play a short scripted conversation (a bug report, a feature "
        "request, a question, a near-duplicate and some praise) and print what happens.",
    )
    parser.add_argument(
        "--data-dir",
        dest="demo_data_dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="keep the demo's database and index here (default: a temporary directory)",
    )
    parser.add_argument("--verbose", action="store_true", help="also show the bot's logs")
    parser.set_defaults(handler=handler)


async def handler(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo; exit 0 when every step completed."""
    configure_logging(settings.log_level, settings.resolved_log_format)
    from bot.demo import run_demo

    data_dir = args.demo_data_dir or getattr(args, "data_dir", None)
    return await run_demo(settings, data_dir=data_dir, verbose=args.verbose)
