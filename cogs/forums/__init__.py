"""Forums: a forum post that became an item follows it and its GitHub issue (tags, archiving)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot


async def setup(bot: IterateSwarmBot) -> None:
    """Load the forums cog."""
    from cogs.forums._cog import ForumsCog

    await bot.add_cog(ForumsCog(bot))
