"""Digest: a periodic summary of the feedback in each guild's review channel, and /digest."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot


async def setup(bot: IterateSwarmBot) -> None:
    """Load the digest cog."""
    from cogs.digest._cog import DigestCog

    await bot.add_cog(DigestCog(bot))
