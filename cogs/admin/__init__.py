"""Admin: /status and /config for maintainers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.client import IterateSwarmBot


async def setup(bot: IterateSwarmBot) -> None:
    """Load the admin cog."""
    from cogs.admin._cog import AdminCog

    await bot.add_cog(AdminCog(bot))
