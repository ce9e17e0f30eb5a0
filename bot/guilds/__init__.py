"""Home guilds: where the bot works, what it turns away, and its slash-command registration.

Only `_home` is imported here (no discord.py), so the CLI tools and the services can use
`HomeGuilds`; the bot imports the gateway gate, the directory and the command sync itself.
"""

from bot.guilds._home import HomeGuilds, claim_from_guild, resolve_home_guilds

__all__ = ["HomeGuilds", "claim_from_guild", "resolve_home_guilds"]
