"""Fake Discord server (gateway WebSocket + REST) on 127.0.0.1; see `bot.sandbox.discord`."""

from bot.sandbox.discord import *  # noqa: F403  (this module is an alias of the package)
from bot.sandbox.discord import __all__  # noqa: F401
