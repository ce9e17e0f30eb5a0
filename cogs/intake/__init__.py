"""Intake: feedback-channel messages, /feedback, "Send to triage" and the triage reaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot


async def setup(bot: IterateSwarmBot) -> None:
    """Load the intake cog."""
    from cogs.intake._cog import IntakeCog

    await bot.add_cog(IntakeCog(bot))
