"""People's data on request: forget a person, an item or a departed guild in every store.

`PersonalData` resolves whose data goes into item ids, holds those items' triage runs,
then asks each registered `PersonalDataStore` to forget (checkpoints, the duplicate index,
corrections, server settings, and any store registered later), the items themselves last
(the other stores' rows refer to them). It reports what was removed and what lives on
GitHub, which the bot never deletes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from agents.dedup.finder import DuplicateIndex
from agents.engines.corrections import CorrectionMemory
from agents.engines.text_prep import embedding_text
from agents.triage.runner import TriageRunner
from storage.embeddings import Embedder
from storage.forgetting import DataSubject, PersonalDataStore, chunks
from storage.item_privacy import GitHubTrace, ItemPrivacyRepository, ReviewMessage
from storage.items import ItemRepository
from storage.models import FeedbackItem, ItemStatus

log = logging.getLogger(__name__)

#: Statuses in which a review is open: a deleted message withdraws the item.
REVIEW_OPEN = frozenset({ItemStatus.AWAITING_REVIEW, ItemStatus.FAILED})
#: Statuses past the point of filing: the issue on GitHub is the record.
FILED_OR_FILING = frozenset(
    {ItemStatus.APPROVED, ItemStatus.FILING, ItemStatus.FILED, ItemStatus.DUPLICATE}
)


@dataclass(slots=True)
class ForgetReport:
    """What was removed, and where the words still are."""

    items: int = 0
    by_guild: Counter[int] = field(default_factory=Counter)
    """Items removed per guild."""
    records: Counter[str] = field(default_factory=Counter)
    github: list[GitHubTrace] = field(default_factory=list)
    """Issues the bot filed from the removed items, or whose comments quote them."""
    reviews: list[ReviewMessage] = field(default_factory=list)
    """Review messages about removed items (to be emptied in Discord)."""

    @property
    def guilds(self) -> set[int]:
        """Guilds whose maintainers should hear about it."""
        found = set(self.by_guild) | {t.guild_id for t in self.github}
        return {g for g in found if g is not None}


class DeletedMessage(StrEnum):
    """What a message deleted on Discord did to its item."""

    REMOVED = "removed"
    """Not reviewed or not filed: the item is gone."""
    WITHDRAWN = "withdrawn"
    """A review was open: the item stays, emptied, as withdrawn by the reporter."""
    KEPT = "kept"
    """Approved or filed already: the issue on GitHub is the record."""


class PersonalData:
    """Forgets people, items and guilds across every store of personal data."""

    def __init__(
        self,
        *,
        items: ItemRepository,
        privacy: ItemPrivacyRepository,
        runner: TriageRunner,
        stores: Iterable[PersonalDataStore] = (),
        embedder: Embedder | None = None,
        corrections: CorrectionMemory | None = None,
        index: DuplicateIndex | None = None,
    ) -> None:
        self.items = items
        self.index = index
        self.privacy = privacy
        self.runner = runner
        self.embedder = embedder
        self.corrections = corrections
        self._stores: list[PersonalDataStore] = list(stores)

    def register(self, store: PersonalDataStore) -> None:
        """Ask `store` to forget too from now on (before the items themselves)."""
        self._stores.append(store)

    @property
    def stores(self) -> list[str]:
        """Names of every store asked, the items last."""
        return [store.name for store in self._stores] + [self.privacy.name]

    # -- who and what ---------------------------------------------------------------------

    async def forget_person(
        self, user_id: int, *, guild_id: int | None = None, names: Iterable[str] = ()
    ) -> ForgetReport:
        """Everything about one person: their items (in `guild_id`, or everywhere), and
        their name and id wherever else they appear (decisions, audit trail, settings).

        Issues filed from their feedback stay on GitHub but leave the duplicate index (it
        mirrors their words) until they change on GitHub.
        """
        item_ids = await self.privacy.items_of_author(user_id, guild_id=guild_id)
        subject = DataSubject(
            item_ids=tuple(item_ids), user_id=user_id, names=frozenset(n for n in names if n)
        )
        report = await self._forget(subject)
        if self.index is not None:
            for trace in report.github:
                if trace.how == "filed" and trace.repo:
                    await self.index.remove_issues(trace.repo, [trace.issue_number])
                    report.records[self.index.name] += 1
        return report

    async def forget_guild(self, guild_id: int) -> ForgetReport:
        """Everything of a guild that removed the bot."""
        item_ids = await self.privacy.items_of_guild(guild_id)
        return await self._forget(DataSubject(item_ids=tuple(item_ids), guild_id=guild_id))

    async def forget_texts(self, item_ids: Sequence[int]) -> ForgetReport:
        """The texts of finished items (retention): the rows stay, emptied."""
        return await self._forget(DataSubject(item_ids=tuple(item_ids), keep_items=True))

    async def message_deleted(self, source_key: str, *, actor: str) -> DeletedMessage | None:
        """The reporter deleted the message an item came from; None when there is no item.

        Before review the item is removed; while its review is open it is withdrawn (its
        texts removed, Approve refused); once approved or filed it is kept.
        """
        found = await self.items.get_by_source(source_key)
        if found is None or found.id is None:
            return None
        item_id = found.id
        async with self.runner.exclusive([item_id]):
            item = await self.items.get(item_id)
            if item is None:
                return None
            status = ItemStatus(item.status)
            if status in FILED_OR_FILING or status == ItemStatus.WITHDRAWN:
                return DeletedMessage.KEPT
            if status in REVIEW_OPEN and await self._withdraw(item, actor=actor):
                return DeletedMessage.WITHDRAWN
            self.runner.cancel_held([item_id])
            await self._forget_locked(DataSubject(item_ids=(item_id,)), ForgetReport())
        return DeletedMessage.REMOVED

    async def _withdraw(self, item: FeedbackItem, *, actor: str) -> bool:
        assert item.id is not None
        moved = await self.items.transition(
            item_id=item.id,
            to=ItemStatus.WITHDRAWN,
            actor=actor,
            expected=REVIEW_OPEN,
            details={"reason": "the reporter deleted their message"},
            flow_done=True,
        )
        if moved is None:
            return False
        self.runner.cancel_held([item.id])
        await self._forget_locked(DataSubject(item_ids=(item.id,), keep_items=True), ForgetReport())
        return True

    # -- the work ---------------------------------------------------------------------------

    async def _forget(self, subject: DataSubject) -> ForgetReport:
        report = ForgetReport()
        report.github = await self.privacy.github_traces(subject.item_ids)
        counts = await self.privacy.guild_counts(subject.item_ids)
        report.by_guild.update({g: n for g, n in counts.items() if g is not None})
        if not subject.keep_items:
            report.reviews = await self.privacy.review_messages(subject.item_ids)
        first = True
        for chunk in chunks(subject.item_ids) if subject.item_ids else [[]]:
            part = replace(subject, item_ids=tuple(chunk))
            if not first:  # the person's name elsewhere is done once
                part = replace(part, user_id=None, names=frozenset())
            first = False
            self.runner.cancel_held(chunk)
            async with self.runner.exclusive(chunk):
                await self._forget_locked(part, report)
            if not subject.keep_items:
                self.runner.forget(chunk)
        log.info(
            "forgot %d item(s)%s: %s",
            report.items,
            " (texts only)" if subject.keep_items else "",
            ", ".join(f"{name} {count}" for name, count in sorted(report.records.items())),
        )
        return report

    async def _forget_locked(self, subject: DataSubject, report: ForgetReport) -> None:
        """Every store forgets, the items last (their triage runs are held by the caller)."""
        for store in self._stores:
            report.records[store.name] += await store.forget(subject)
        removed = await self.privacy.forget(subject)
        report.records[self.privacy.name] += removed
        report.items += removed
        self._forget_cached(subject)

    def _forget_cached(self, subject: DataSubject) -> None:
        """Texts and vectors this process keeps in memory."""
        if self.corrections is not None:
            self.corrections.forget(set(subject.item_ids), guild_id=subject.guild_id)
        if self.embedder is not None:
            self.embedder.forget_texts()
        embedding_text.cache_clear()
