"""Subcommands of the `iterateswarm` CLI, one module each, discovered at start.

Each module defines `register(subparsers)`, which adds its parser and sets
`handler=` to an `async def handler(args, settings) -> int`.
"""
