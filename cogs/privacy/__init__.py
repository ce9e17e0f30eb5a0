"""Privacy: /forget for people's data, and following Discord's deletions, edits and departures."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot


async def setup(bot: IterateSwarmBot) -> None:
    """Load the privacy cogs."""
    from cogs.privacy._cog import PrivacyCog
    from cogs.privacy._follow import FollowDiscordCog

    await bot.add_cog(PrivacyCog(bot))
    await bot.add_cog(FollowDiscordCog(bot))
