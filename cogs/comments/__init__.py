"""Comments: an issue's comments in its item's Discord post or thread, and the reporter's back."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot


async def setup(bot: IterateSwarmBot) -> None:
    """Load the comments cog."""
    from cogs.comments._cog import CommentsCog

    await bot.add_cog(CommentsCog(bot))
