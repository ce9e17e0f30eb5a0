"""Approvals: review messages with buttons, reactions, reminders and reporter notices."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot


async def setup(bot: IterateSwarmBot) -> None:
    """Load the approvals cog."""
    from cogs.approvals._cog import ApprovalsCog

    await bot.add_cog(ApprovalsCog(bot))
