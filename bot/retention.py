"""Scheduled forgetting: data kept longer than the operator allows.

Every hour: guilds that removed the bot more than GUILD_DATA_RETENTION ago lose all their
data (unless the bot is back); finished items older than DATA_RETENTION lose their texts
(the rows stay, for counts); rejected feedback older than REJECTED_INDEX_RETENTION leaves the
duplicate index; finished items lose their graph checkpoints (`bot.checkpoint_pruning`).
Each run handles a bounded batch, so a backlog drains over a few runs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.checkpoint_pruning import CheckpointPruner
from bot.services import Services
from storage.guild_departures import GuildDepartureRepository
from storage.item_privacy import ItemPrivacyRepository
from storage.models import utcnow

log = logging.getLogger(__name__)

RETENTION_EVERY = timedelta(hours=1)
#: Items handled per kind of removal and run.
BATCH = 500


@dataclass(slots=True)
class RetentionRun:
    """What one run removed."""

    guilds: list[int] = field(default_factory=list)
    texts: int = 0
    unindexed: int = 0
    pruned: int = 0


class RetentionJob:
    """Applies GUILD_DATA_RETENTION, DATA_RETENTION and REJECTED_INDEX_RETENTION."""

    def __init__(
        self,
        services: Services,
        *,
        present: Callable[[int], bool] = lambda _guild_id: False,
        batch: int = BATCH,
    ) -> None:
        """Create the job.

        Args:
            services: The bot's services (`personal_data` must be set).
            present: Whether the bot is in a guild now (a departure is then called off).
            batch: Items per kind of removal and run.
        """
        assert services.personal_data is not None
        self.services = services
        self.personal_data = services.personal_data
        self.present = present
        self.batch = batch
        self.departures = GuildDepartureRepository(services.db)
        self.privacy = ItemPrivacyRepository(services.db)
        self.pruner = CheckpointPruner(services, batch=batch)

    async def run(self) -> RetentionRun:
        """One pass over all three rules, then a batch of checkpoint pruning."""
        done = RetentionRun()
        limits = self.services.settings.retention
        now = utcnow()
        for guild_id in await self.departures.left_before(now - limits.guild_data_retention):
            if not self.services.runner.owns_guild(guild_id):
                continue
            if self.present(guild_id):
                await self.departures.returned(guild_id)
                continue
            report = await self.personal_data.forget_guild(guild_id)
            log.info("deleted the data of departed guild %s: %d item(s)", guild_id, report.items)
            done.guilds.append(guild_id)
        old = await self.privacy.finished_before(now - limits.data_retention, limit=self.batch)
        if old:
            done.texts = (await self.personal_data.forget_texts(old)).items
            log.info("removed the texts of %d item(s) older than DATA_RETENTION", done.texts)
        done.unindexed = await self._unindex_rejected(now - limits.rejected_index_retention)
        done.pruned = await self.pruner.run()
        return done

    async def _unindex_rejected(self, cutoff: datetime) -> int:
        index = self.services.dedup
        stale = await self.privacy.rejected_still_indexed(cutoff, limit=self.batch)
        if not stale or index is None:
            return 0
        by_repo: dict[str, list[int]] = defaultdict(list)
        for item_id, repo in stale.items():
            by_repo[repo].append(item_id)
        for repo, item_ids in by_repo.items():
            await index.forget_feedback(item_ids, [repo] if repo else [])
        await self.privacy.mark_unindexed(list(stale))
        log.info("%d rejected item(s) left the duplicate index", len(stale))
        return len(stale)
