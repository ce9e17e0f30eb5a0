"""Duplicate confirmation: asking a reporter whether a matching open issue is their problem."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot


async def setup(bot: IterateSwarmBot) -> None:
    """Load the duplicate confirmation cog."""
    from cogs.dupconfirm._cog import SameIssueCog

    await bot.add_cog(SameIssueCog(bot))
