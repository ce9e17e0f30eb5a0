"""What the bot's messages may ping: nobody. Every send passes it, beside the client's default."""

from __future__ import annotations

import discord

NO_PINGS = discord.AllowedMentions.none()
