"""Deleting the graph checkpoints of finished items; their audit trail stays.

A finished item's graph has nothing left to do, so its checkpoints are dead weight (and a copy
of its texts). The retention job prunes them in batches. An item sent back to triage starts a
fresh graph run anyway, and is pruned again once it finishes.
"""

from __future__ import annotations

import logging

from agents.triage.checkpoint import ThreadCheckpoints
from bot.services import Services
from storage.checkpoint_marks import CheckpointMarks

log = logging.getLogger(__name__)


class CheckpointPruner:
    """Prunes the checkpoints of finished items of the guilds this process owns."""

    def __init__(self, services: Services, *, batch: int) -> None:
        self.runner = services.runner
        self.marks = CheckpointMarks(services.db)
        self.checkpoints = ThreadCheckpoints(services.runner.graph.checkpointer)  # type: ignore[arg-type]
        self.batch = batch

    async def run(self) -> int:
        """One batch; returns how many items' checkpoints were deleted."""
        found = await self.marks.unpruned(limit=self.batch)
        owned = [item_id for item_id, guild_id in found.items() if self.runner.owns_guild(guild_id)]
        if not owned:
            return 0
        async with self.runner.exclusive(owned):
            finished = await self.marks.still_finished(owned)
            await self.checkpoints.prune(finished)
            await self.marks.mark_pruned(finished)
        if finished:
            log.info("pruned the graph checkpoints of %d finished item(s)", len(finished))
        return len(finished)
