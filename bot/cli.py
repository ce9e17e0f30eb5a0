"""The `iterateswarm` command line: `run` (default), `check`, `db`, and the operator tools."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__, commands
from bot.settings import Settings, SettingsError, load_settings


class UserError(Exception):
    """A mistake the user can fix; printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(
        prog="iterateswarm",
        description="Turn Discord feedback into de-duplicated, maintainer-approved GitHub issues.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="where local state lives (default: DATA_DIR)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def _settings_for(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if args.data_dir is not None:
        overrides["DATA_DIR"] = args.data_dir
    return load_settings(**overrides)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, build settings and run the chosen subcommand."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*(argv or sys.argv[1:]), "run"])
    try:
        settings = _settings_for(args)
        return int(asyncio.run(args.handler(args, settings)))
    except SettingsError as exc:
        print(f"iterateswarm: configuration error:\n{exc}", file=sys.stderr)
        return 2
    except UserError as exc:
        print(f"iterateswarm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
